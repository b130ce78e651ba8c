import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import { type Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import Long from 'long';
import type { Logger } from 'pino';
import type { Breaker } from '../pipeline/breaker.ts';
import { serviceBusCode } from '../servicebus/errors.ts';
import type { MessagePath, ProcessOptions } from '../servicebus/message-path.ts';
import { createDeferredReceiver } from './deferred-receiver.ts';
import { RetryError } from './errors.ts';
import { type RetryJobData, retryQueueName, retryQueuePrefix } from './job.ts';
import { deferredAttempt } from './retry-policy.ts';

/** The receiver calls the retry worker makes. */
export type DeferredReceiver = Pick<
  ServiceBusReceiver,
  | 'receiveDeferredMessages'
  | 'peekMessages'
  | 'completeMessage'
  | 'abandonMessage'
  | 'deferMessage'
  | 'deadLetterMessage'
  | 'renewMessageLock'
  | 'close'
>;

export type RetryWorkerOptions = {
  /** BullMQ's connection (RedisConnections.worker()). */
  connection: Redis;
  /** Entity path of `receiver`. */
  entity: string;
  /** A peek-lock receiver of the entity the jobs point into. */
  receiver: DeferredReceiver;
  /** What each message goes through: the same path as the consumer's. */
  path: MessagePath;
  logger: Logger;
  /** Jobs at once. */
  concurrency: number;
  /** How long close() lets running jobs finish. */
  drainGraceMs: number;
  /** Told of each job that found nothing to do (the message was settled elsewhere). @defaultValue none */
  observer?: RetryWorkerObserver;
  /**
   * The write path's breaker: while it is not closed the worker takes no job, so no attempt is
   * spent against a database known to be down; when it closes, `promoteDelayed` makes every
   * waiting attempt due at once. @defaultValue none
   */
  breaker?: Pick<Breaker, 'state' | 'onChange'>;
  /** Makes every delayed job due now. @defaultValue none */
  promoteDelayed?: () => Promise<void>;
};

export type RetryWorkerObserver = { gone(): void };

export type RetryWorker = {
  start(): Promise<void>;
  /** Stops taking jobs and lets running ones finish within the grace period. Idempotent. */
  close(): Promise<void>;
  stats(): { completed: number; deadLettered: number; deferred: number; abandoned: number; gone: number };
};

/**
 * The BullMQ worker of delayed retries: each job names a deferred message, which is received by
 * its sequence number (any replica can, the message never left Service Bus), written through the
 * same path as a fresh one and settled by the retry policy's outcome. A job that runs twice
 * finds the message settled the second time, and the inbox keeps the effect single regardless.
 */
export function createRetryWorker(options: RetryWorkerOptions): RetryWorker {
  const { receiver, logger, path } = options;
  let gone = 0;
  const drainAbort = new AbortController();
  // A deferred message was parsed once before it was deferred; its timestamps now come as numbers.
  const processOptions = {
    source: 'retry',
    signal: drainAbort.signal,
    parse: { timestampsAsEpochMs: true },
  } as const;
  let worker: Worker<RetryJobData> | undefined;
  let closing: Promise<void> | undefined;
  const deferred = createDeferredReceiver(receiver);
  let unfollow: (() => void) | undefined;

  /**
   * The deferred message this job's attempt is for, locked; undefined when the job has nothing to
   * do: the message was settled, another replica holds this attempt, or a later attempt's job
   * looks after it (a stale job received it, it would spend a delivery of the message's budget).
   * The peek first is free: it counts no delivery, a receive does.
   */
  const receive = async (data: RetryJobData, log: Logger): Promise<ServiceBusReceivedMessage | undefined> => {
    const sequenceNumber = Long.fromString(data.sequenceNumber);
    const [peeked] = await receiver.peekMessages(1, { fromSequenceNumber: sequenceNumber });
    if (!peeked || String(peeked.sequenceNumber) !== data.sequenceNumber) {
      log.debug({ stage: 'retry' }, 'the deferred message is gone (settled elsewhere); job done');
      return undefined;
    }
    if (peeked.state !== 'deferred') {
      throw new RetryError('NotDeferredYet', `message ${data.messageId} is not deferred yet`);
    }
    const waitsFor = deferredAttempt(peeked);
    if (waitsFor > data.attempt) {
      log.debug({ stage: 'retry', waitsFor }, 'a later attempt looks after the message; stale job done');
      return undefined;
    }
    try {
      const message = await deferred.receive(sequenceNumber);
      if (message) return message;
    } catch (error: unknown) {
      const code = serviceBusCode(error);
      if (code === 'MessageLockLost') {
        // Still locked by the attempt before, whose defer (it added this job first) is on its way:
        // BullMQ runs this job again in a second. Otherwise another replica runs this very attempt.
        if (waitsFor < data.attempt) {
          throw new RetryError(
            'NotDeferredYet',
            `message ${data.messageId} is not deferred for attempt ${data.attempt} yet`,
          );
        }
        return undefined;
      }
      // Anything else but not-found is a fault.
      if (code !== 'MessageNotFound') throw error;
    }
    log.debug({ stage: 'retry' }, 'the deferred message is gone (settled elsewhere); job done');
    return undefined;
  };

  const process = async (job: Job<RetryJobData>): Promise<void> => {
    const data = job.data;
    const log = logger.child({
      messageId: data.messageId,
      sequenceNumber: data.sequenceNumber,
      attempt: data.attempt,
    });
    if (data.entity !== options.entity) {
      // Thrown, not dropped: BullMQ tries it again, maybe on a worker of that entity.
      log.error(
        { stage: 'retry', jobEntity: data.entity },
        'retry job of another entity: give each deployment its own Redis',
      );
      throw new RetryError('ForeignEntity', `job for ${data.entity}, this worker serves ${options.entity}`);
    }
    const message = await receive(data, log);
    if (!message) {
      gone++;
      options.observer?.gone();
      return;
    }
    const o: ProcessOptions = { ...processOptions, fields: { attempt: data.attempt } };
    await path.process(receiver, message, o);
  };

  return {
    async start() {
      worker = new Worker<RetryJobData>(retryQueueName, process, {
        connection: options.connection,
        prefix: retryQueuePrefix,
        concurrency: options.concurrency,
        autorun: false,
        // A crashed replica's job comes back quickly; the message itself never left Service Bus.
        stalledInterval: 15_000,
      });
      worker.on('error', (error: Error) =>
        logger.warn({ stage: 'retry', err: error.message }, 'retry worker error; BullMQ reconnects'),
      );
      worker.on('failed', (job, error) => {
        const code = error.name === 'RetryError' ? (error as RetryError).code : serviceBusCode(error);
        // A defer still on its way heals by itself in a second; anything else is worth a warning.
        logger[code === 'NotDeferredYet' ? 'info' : 'warn'](
          { stage: 'retry', jobId: job?.id, code, err: error.message },
          'retry job failed; BullMQ tries it again',
        );
      });
      void worker.run().catch((error: unknown) => {
        if (!closing) logger.error({ stage: 'retry', err: error }, 'retry worker stopped');
      });
      const bull = worker;
      const follow = (to: string) => {
        if (closing) return;
        if (to === 'open') {
          // Jobs already running hold their messages (the policy waits); no new one starts.
          void bull.pause(true).catch(() => undefined);
        } else if (to === 'closed') {
          bull.resume();
          options
            .promoteDelayed?.()
            .catch((error: unknown) =>
              logger.warn(
                { stage: 'retry', err: (error as Error).message },
                'making delayed retries due failed; they run at their time',
              ),
            );
        }
      };
      unfollow = options.breaker?.onChange(follow);
      if (options.breaker && options.breaker.state !== 'closed') follow('open');
      // Not awaited: with Redis down at start the worker connects later by itself, and start goes on.
      worker.waitUntilReady().then(
        () => logger.info({ concurrency: options.concurrency }, 'retry worker started'),
        () => undefined,
      );
    },
    close() {
      closing ??= (async () => {
        unfollow?.();
        if (!worker) return;
        let timer: NodeJS.Timeout | undefined;
        const graceOver = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), options.drainGraceMs);
        });
        const drained = worker.close();
        const result = await Promise.race([drained.then(() => 'drained' as const), graceOver]);
        clearTimeout(timer);
        if (result === 'timeout') {
          // Their messages are abandoned, which leaves them deferred; the reconciler gives each a
          // job again.
          logger.warn('retry worker grace period over; stopping running jobs');
          drainAbort.abort();
          await worker.close(true);
        }
        await receiver.close().catch(() => undefined);
        logger.info({ ...path.counts('retry'), gone }, 'retry worker closed');
      })();
      return closing;
    },
    stats: () => {
      const { completed, deadLettered, deferred, abandoned } = path.counts('retry');
      return { completed, deadLettered, deferred, abandoned, gone };
    },
  };
}
