import type { ServiceBusClient } from '@azure/service-bus';
import { type Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import Long from 'long';
import type { IdentityDescription } from '../identity/describe.ts';
import { type RetryJobData, retryQueueName, retryQueuePrefix } from '../retry/job.ts';
import { needServiceBusRole } from './access.ts';
import { createTally, type ReprocessOptions, type ReprocessSummary } from './run.ts';

export type RetriesOptions = ReprocessOptions & {
  client: ServiceBusClient;
  /** For actionable errors. */
  queue: string;
  namespace: string;
  identity: IdentityDescription;
  /** Plain Redis URL, for a Redis without Entra authentication. */
  redisUrl: string;
  /**
   * A connection the caller made and closes (for example one that authenticates with Entra ID);
   * when given, `redisUrl` is not used. @defaultValue a connection to `redisUrl`
   */
  redis?: Redis;
  /** `list` prints the jobs; `retry` runs them now; `give-up` dead-letters their messages as RetriesExhausted. */
  action: 'list' | 'retry' | 'give-up';
  /** Only the jobs of this message. @defaultValue every job */
  messageId?: string;
  /** Where `list` writes one line per job, and the job's fields (for JSON output). */
  onList?: (line: string, job: ListedRetry) => void;
  /** BullMQ queue name and prefix (tests isolate themselves). @defaultValue the contract in retry/job.ts */
  queueName?: string;
  prefix?: string;
};

/** `orders` or `topic/Subscriptions/sub` → the receiver of that entity. */
const receiverFor = (client: ServiceBusClient, entity: string) => {
  const [topic, , subscription] = entity.split('/');
  return subscription
    ? client.createReceiver(topic as string, subscription, { receiveMode: 'peekLock' })
    : client.createReceiver(entity, { receiveMode: 'peekLock' });
};

/** A waiting retry as `list` shows it: the job's id, its message, attempt and last error, and when it runs (ISO). */
export type ListedRetry = Pick<RetryJobData, 'messageId' | 'attempt' | 'lastError'> & {
  id: string;
  due: string;
};

const listed = (job: Job<RetryJobData>): ListedRetry => ({
  id: String(job.id),
  messageId: job.data.messageId,
  attempt: job.data.attempt,
  due: new Date(job.timestamp + (job.opts.delay ?? 0)).toISOString(),
  lastError: { code: job.data.lastError.code, message: job.data.lastError.message },
});

const describeJob = (j: ListedRetry): string =>
  `${j.id}  message ${j.messageId}  attempt ${j.attempt}  due ${j.due}  last error ${j.lastError.code}: ${j.lastError.message}`;

/**
 * The retry queue for operators. Only jobs that wait (delayed or waiting) are touched: a job the
 * retry worker runs now is left to it. Giving up dead-letters the deferred message first and removes
 * the job after, so an interrupted run leaves either both (run again) or a job whose message is
 * already settled (removed on the next run as `already-settled`): the message is never lost.
 */
export async function reprocessRetries(options: RetriesOptions): Promise<ReprocessSummary> {
  const redis = options.redis ?? new Redis(options.redisUrl, { maxRetriesPerRequest: 3, lazyConnect: true });
  if (!options.redis) await redis.connect();
  const queue = new Queue<RetryJobData>(options.queueName ?? retryQueueName, {
    connection: redis,
    prefix: options.prefix ?? retryQueuePrefix,
  });
  try {
    const waiting = (await queue.getJobs(['delayed', 'waiting', 'prioritized'])).filter(
      (j): j is Job<RetryJobData> =>
        Boolean(j) && (options.messageId === undefined || j.data.messageId === options.messageId),
    );
    waiting.sort((a, b) => a.timestamp - b.timestamp);
    const jobs = waiting.slice(0, options.max ?? Infinity);
    const tally = createTally(options, jobs.length);
    if (options.action === 'list' || options.dryRun) {
      for (const job of jobs) {
        const fields = listed(job);
        if (options.action === 'list') options.onList?.(describeJob(fields), fields);
        else options.onPlan?.(`would ${options.action}: ${describeJob(fields)}`);
        tally.count(options.action === 'list' ? 'listed' : `would-${options.action}`);
      }
      return tally.summary;
    }
    const receivers = new Map<string, ReturnType<typeof receiverFor>>();
    try {
      for (const job of jobs) {
        if (!tally.go) break;
        await tally.pace();
        try {
          if (options.action === 'retry') {
            // A job already due is left as it is: it runs as soon as a retry worker is free.
            if ((await job.getState()) !== 'delayed') tally.count('already-due');
            else {
              await job.promote();
              tally.count('promoted');
            }
            continue;
          }
          const { entity, sequenceNumber } = job.data;
          let receiver = receivers.get(entity);
          if (!receiver) {
            receiver = receiverFor(options.client, entity);
            receivers.set(entity, receiver);
          }
          const r = receiver;
          const access = { identity: options.identity, namespace: options.namespace, queue: entity };
          const found = await needServiceBusRole(
            () =>
              r.receiveDeferredMessages([Long.fromString(sequenceNumber)]).catch((error: unknown) => {
                // Already completed or dead-lettered (a retry that won, or an earlier interrupted give-up).
                if ((error as { code?: string }).code === 'MessageNotFound') return [];
                throw error;
              }),
            { ...access, role: 'Azure Service Bus Data Receiver', action: 'receive a deferred message' },
          );
          const [message] = found;
          if (message) {
            await r.deadLetterMessage(message, {
              deadLetterReason: 'RetriesExhausted',
              deadLetterErrorDescription:
                `An operator gave up after attempt ${job.data.attempt}; last error ${job.data.lastError.code}: ${job.data.lastError.message}`.slice(
                  0,
                  1024,
                ),
            });
          }
          await job.remove();
          tally.count(message ? 'dead-lettered' : 'already-settled');
        } catch (error: unknown) {
          if ((error as Error).name === 'AccessError') throw error;
          tally.count('failed', { id: String(job.id), error });
        }
      }
    } finally {
      for (const r of receivers.values()) await r.close().catch(() => undefined);
    }
    return tally.summary;
  } finally {
    await queue.close().catch(() => undefined);
    if (!options.redis) redis.disconnect();
  }
}
