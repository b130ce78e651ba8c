import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RetryError } from './errors.ts';
import { type RetryJobData, retryJobId, retryQueueName, retryQueuePrefix } from './job.ts';

export type RetryQueueOptions = {
  /** A fail-fast connection (RedisConnections.commands()). */
  connection: Redis;
  logger: Pick<Logger, 'info' | 'warn' | 'debug'>;
  /** How long an add may take before the message is abandoned instead. @defaultValue 2000 */
  addTimeoutMs?: number;
};

/** States in which a job will still run: a deferred message with one of these is looked after. */
const liveStates = new Set(['waiting', 'delayed', 'active', 'prioritized', 'waiting-children']);

export type AddResult = 'added' | 'duplicate';

export type RetryQueue = {
  /**
   * Adds the delayed job of one attempt. Throws RetryError `RedisUnavailable` when Redis does not
   * take it in time; resolves `duplicate` when a job with that id was still retained (BullMQ drops
   * such an add without a word).
   */
  add(data: RetryJobData, delayMs: number): Promise<AddResult>;
  /** Whether the job of this attempt will still run. */
  isLive(data: RetryJobData): Promise<boolean>;
  queue: Queue<RetryJobData>;
  close(): Promise<void>;
};

export function createRetryQueue(options: RetryQueueOptions): RetryQueue {
  const { logger } = options;
  const timeoutMs = options.addTimeoutMs ?? 2_000;
  const queue = new Queue<RetryJobData>(retryQueueName, {
    connection: options.connection,
    prefix: retryQueuePrefix,
  });
  queue.on('error', (error: Error) =>
    logger.warn({ stage: 'retry', err: error.message }, 'retry queue error'),
  );

  const bounded = async <T>(what: string, call: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    call.catch(() => undefined);
    try {
      return await Promise.race([
        call,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new RetryError('RedisUnavailable', `Redis did not ${what} within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } catch (error: unknown) {
      if ((error as Error).name === 'RetryError') throw error;
      throw new RetryError('RedisUnavailable', `Redis did not ${what}: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    queue,
    async add(data, delayMs) {
      const jobId = retryJobId(data);
      // BullMQ drops an add whose id it still keeps, and says nothing: look first. Two replicas
      // racing past this check both add, and the one dropped add changes nothing.
      const state = await bounded('read a job state', queue.getJobState(jobId));
      if (liveStates.has(state)) {
        logger.info(
          { stage: 'retry', jobId, state, messageId: data.messageId },
          'a retry job with this id is still retained; not adding it again',
        );
        return 'duplicate';
      }
      if (state !== 'unknown') {
        // A finished job under this id would swallow the add; the message needs a job that runs.
        logger.info({ stage: 'retry', jobId, state }, 'replacing a finished retry job with this id');
        await bounded('remove a finished job', queue.remove(jobId));
      }
      await bounded(
        'take the retry job',
        queue.add('retry', data, {
          jobId,
          delay: Math.max(0, Math.round(delayMs)),
          removeOnComplete: true,
          removeOnFail: 1_000,
          // Job-level tries cover a message that is not deferred yet (its defer is still on the wire).
          attempts: 5,
          backoff: { type: 'fixed', delay: 1_000 },
        }),
      );
      logger.debug({ stage: 'retry', jobId, delayMs }, 'retry job added');
      return 'added';
    },
    async isLive(data) {
      const state = await bounded('read a job state', queue.getJobState(retryJobId(data)));
      return liveStates.has(state);
    },
    close: () => queue.close(),
  };
}
