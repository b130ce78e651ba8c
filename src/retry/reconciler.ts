import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import Long from 'long';
import type { Logger } from 'pino';
import { createPeriodicTask } from '../lifecycle.ts';
import { type BackoffOptions, jitteredDelayMs } from './backoff.ts';
import type { RetryJobData } from './job.ts';
import { deferredAttempt, retryProperties } from './retry-policy.ts';
import type { RetryQueue } from './retry-queue.ts';

export type ReconcilerOptions = BackoffOptions & {
  entity: string;
  /** Opens a fresh peek receiver: a receiver's own peek cursor only moves forward. */
  createPeeker: () => Pick<ServiceBusReceiver, 'peekMessages' | 'close'>;
  queue: Pick<RetryQueue, 'add' | 'isLive'>;
  logger: Pick<Logger, 'info' | 'warn' | 'debug'>;
  /** Pause between passes. */
  intervalMs: number;
  /** Messages per peek. @defaultValue 250 */
  pageSize?: number;
  /** Peeks per pass; a longer entity is covered over several passes from a saved cursor. @defaultValue 20 */
  maxPagesPerPass?: number;
};

export type Reconciler = {
  /** Runs one pass now, then one every `intervalMs`. */
  start(): Promise<void>;
  /** One pass: peeks up to maxPagesPerPass pages from the cursor; returns the jobs it re-added. */
  pass(): Promise<{ peeked: number; deferred: number; readded: number }>;
  close(): Promise<void>;
};

/**
 * Invariant 1 when Redis lost its jobs (FLUSHALL, a restart without persistence, a Redis that was
 * down at defer time): finds deferred messages whose attempt has no live job and adds it again.
 * Peeking is read-only and the job id is fixed by (entity, sequence number, attempt), so any
 * number of replicas can run it at once: their adds collapse into one job.
 */
export function createReconciler(options: ReconcilerOptions): Reconciler {
  const { logger } = options;
  const pageSize = options.pageSize ?? 250;
  const maxPages = options.maxPagesPerPass ?? 20;
  let cursor = Long.ZERO;
  let closed = false;

  /** The job a deferred message waits for, as its properties tell. */
  const jobOf = (m: ServiceBusReceivedMessage): RetryJobData => {
    const [code = 'Unknown', ...rest] = String(
      m.applicationProperties?.[retryProperties.lastError] ?? '',
    ).split(': ');
    return {
      entity: options.entity,
      sequenceNumber: String(m.sequenceNumber),
      messageId: String(m.messageId ?? ''),
      attempt: deferredAttempt(m),
      lastError: { code, message: rest.join(': ') },
    };
  };

  const pass = async () => {
    const totals = { peeked: 0, deferred: 0, readded: 0 };
    const peeker = options.createPeeker();
    try {
      for (let page = 0; page < maxPages && !closed; page++) {
        const messages = await peeker.peekMessages(pageSize, { fromSequenceNumber: cursor });
        totals.peeked += messages.length;
        for (const m of messages) {
          if (m.state !== 'deferred' || m.sequenceNumber === undefined) continue;
          totals.deferred++;
          if (await options.queue.isLive(jobOf(m))) continue;
          // The page may be seconds old: its attempt may have run since, and the next one be live.
          // Adding the old attempt again would start a second chain of jobs for the message.
          const [now] = await peeker.peekMessages(1, {
            fromSequenceNumber: Long.fromValue(m.sequenceNumber),
          });
          if (!now || !Long.fromValue(m.sequenceNumber).equals(now.sequenceNumber ?? -1)) continue;
          if (now.state !== 'deferred') continue;
          const data = jobOf(now);
          const next = { ...data, attempt: data.attempt + 1 };
          if ((await options.queue.isLive(data)) || (await options.queue.isLive(next))) continue;
          if ((await options.queue.add(data, jitteredDelayMs(data.attempt, options))) === 'added') {
            totals.readded++;
          }
        }
        const last = messages.at(-1)?.sequenceNumber;
        if (messages.length < pageSize || last === undefined) {
          cursor = Long.ZERO; // the end: the next pass starts over
          break;
        }
        cursor = Long.fromValue(last).add(1);
      }
    } finally {
      await peeker.close().catch(() => undefined);
    }
    if (totals.readded > 0)
      logger.info({ stage: 'retry', ...totals }, 're-added retry jobs for deferred messages');
    else logger.debug({ stage: 'retry', ...totals }, 'reconciler pass');
    return totals;
  };

  // Redis or Service Bus away: the next pass tries again; nothing was changed.
  const task = createPeriodicTask({
    name: 'reconciler',
    run: async () => {
      await pass();
    },
    intervalMs: options.intervalMs,
    onError: (error) => logger.warn({ stage: 'retry', err: error }, 'reconciler pass failed'),
    logger,
  });

  return {
    async start() {
      await task.runNow();
    },
    pass,
    async close() {
      closed = true;
      await task.close();
    },
  };
}
