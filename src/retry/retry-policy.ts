import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import type { Logger } from 'pino';
import type { Outcome } from '../pipeline/outcome.ts';
import { type BackoffOptions, jitteredDelayMs } from './backoff.ts';
import type { RetryJobData } from './job.ts';
import type { RetryQueue } from './retry-queue.ts';

/** Application properties the retry tier writes on a message as it defers it. */
export const retryProperties = {
  /** The delayed attempt the message waits for (1, 2, …): the counter survives losing Redis. */
  attempt: 'RetryAttempt',
  /** `code: message` of the failure that led to it. */
  lastError: 'RetryLastError',
} as const;

export type RetryPolicyOptions = BackoffOptions & {
  /** Entity path the messages come from. */
  entity: string;
  queue: Pick<RetryQueue, 'add'>;
  /** In-process retries before deferring. */
  immediateAttempts: number;
  /** Bound of the first immediate wait, doubled for each next one. */
  immediateDelayMs: number;
  /** Delayed attempts a message gets in all. */
  maxAttempts: number;
  random?: () => number;
};

export type RetryPolicy = {
  /**
   * Writes one message's event, retrying a transient failure at once a few times; if it stays
   * transient, adds the next delayed job and returns `defer` (only once the job is safely added),
   * `abandon` when Redis cannot take the job, or `RetriesExhausted` when the budget is spent.
   */
  run(
    write: () => Promise<Outcome>,
    message: ServiceBusReceivedMessage,
    log: Logger,
    signal?: AbortSignal,
  ): Promise<Outcome>;
};

type RetryableAbandon = { kind: 'abandon'; error: unknown; retryable: true };

/** Only a failure its adapter classified as transient is retried; anything else keeps its outcome. */
export const isRetryable = (outcome: Outcome): outcome is RetryableAbandon =>
  outcome.kind === 'abandon' && outcome.retryable === true;

/** `code: message` of a failure, for logs and the message's RetryLastError property. */
export const describeFailure = (error: unknown): { code: string; message: string } => {
  const e = error as { code?: unknown; name?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : typeof e?.name === 'string' ? e.name : 'Error';
  return { code, message: typeof e?.message === 'string' ? e.message : String(error) };
};

/**
 * Attempts spent so far: the larger of the counter written at each defer and Service Bus's delivery
 * count, so a budget spent on redeliveries (lock lost, crash, Redis down) counts too.
 */
export const attemptsUsed = (message: ServiceBusReceivedMessage): number => {
  const written = Number(message.applicationProperties?.[retryProperties.attempt] ?? 0);
  return Math.max(Number.isFinite(written) ? written : 0, message.deliveryCount ?? 0);
};

/**
 * The delayed attempt a deferred message waits for, as its last defer wrote it (1 for a message
 * deferred without the property: its first job).
 */
export const deferredAttempt = (message: Pick<ServiceBusReceivedMessage, 'applicationProperties'>): number =>
  Math.max(1, Number(message.applicationProperties?.[retryProperties.attempt] ?? 1) || 1);

/** Longest hold of a message before it is abandoned because Redis did not take its job. */
const redisDownPauseMaxMs = 5_000;

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

export function createRetryPolicy(options: RetryPolicyOptions): RetryPolicy {
  const random = options.random ?? Math.random;
  return {
    async run(write, message, log, signal) {
      let outcome = await write();
      for (let i = 0; i < options.immediateAttempts && isRetryable(outcome) && !signal?.aborted; i++) {
        await sleep(Math.floor(random() * options.immediateDelayMs * 2 ** i), signal);
        if (signal?.aborted) break;
        log.debug(
          { stage: 'retry', immediate: i + 1, code: describeFailure(outcome.error).code },
          'immediate retry',
        );
        outcome = await write();
      }
      if (!isRetryable(outcome)) return outcome;

      const { error } = outcome;
      const used = attemptsUsed(message);
      const attempt = used + 1;
      const lastError = describeFailure(error);
      if (attempt > options.maxAttempts) {
        return {
          kind: 'deadLetter',
          reason: 'RetriesExhausted',
          description: `${used} delayed attempts spent (RETRY_MAX_ATTEMPTS ${options.maxAttempts}); last error ${lastError.code}: ${lastError.message}`,
        };
      }
      const data: RetryJobData = {
        entity: options.entity,
        sequenceNumber: String(message.sequenceNumber),
        messageId: String(message.messageId ?? ''),
        attempt,
        lastError,
      };
      const delayMs = jitteredDelayMs(attempt, options, random);
      try {
        // The job first, then the defer: a deferred message without a job would wait for the reconciler.
        await options.queue.add(data, delayMs);
      } catch (addError: unknown) {
        log.warn(
          { stage: 'retry', attempt, err: addError },
          'Redis did not take the retry job; abandoning, Service Bus delivers the message again',
        );
        // Each redelivery spends budget: without a pause, a Redis outage of a few seconds would
        // spend all of it. The lock is renewed meanwhile; shutdown cuts the pause short.
        await sleep(Math.min(options.baseDelayMs, redisDownPauseMaxMs), signal);
        return { kind: 'abandon', error, retryable: true };
      }
      // Per message, and it heals by itself: counted in keyless_messages_deferred_total, logged at debug.
      log.debug({ stage: 'retry', attempt, delayMs, code: lastError.code }, 'deferred for a delayed retry');
      return {
        kind: 'defer',
        error,
        properties: {
          [retryProperties.attempt]: attempt,
          [retryProperties.lastError]: `${lastError.code}: ${lastError.message}`.slice(0, 1_000),
        },
      };
    },
  };
}
