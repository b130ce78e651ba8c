import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import type { Logger } from 'pino';
import { defaults } from '../defaults.ts';
import { createFailureEpisode } from '../failure-episode.ts';
import { silentLogger } from '../logger.ts';
import type { Breaker } from '../pipeline/breaker.ts';
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
  /**
   * The write path's breaker: while the database is known to be down, a failure spends no attempt
   * and the message waits for it instead, up to `holdMaxMs`. @defaultValue none (no waiting)
   */
  gate?: Pick<Breaker, 'state' | 'suspect' | 'verdict' | 'whenClosed' | 'noteDeferred'> | undefined;
  /** Where a run of failed job adds (Redis down) is told, as one episode. @defaultValue silent */
  logger?: Pick<Logger, 'warn' | 'info'>;
  /** How long a message waits for the database before it goes the retry tier's way. @defaultValue 120000 */
  holdMaxMs?: number;
  random?: () => number;
  /** @defaultValue Date.now */
  now?: () => number;
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

/** Longest wait for the breaker's verdict on a run of failures before a message is deferred. */
const verdictWaitMs = 2_000;

/** Longest hold of a message before it is abandoned because Redis did not take its job. */
const redisDownPauseMaxMs = 5_000;

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
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
  const now = options.now ?? Date.now;
  const { gate } = options;
  const holdMaxMs = options.holdMaxMs ?? defaults.breakerHoldMaxMs;
  // Redis down fails every message's job add: one line when it starts, a summary, one when it ends.
  const redisDown = createFailureEpisode(
    options.logger ?? silentLogger,
    {
      started: 'Redis did not take the retry job; abandoning, Service Bus delivers the message again',
      ongoing: 'Redis still does not take retry jobs; messages are abandoned instead of deferred',
      ended: 'Redis takes retry jobs again',
    },
    { now },
  );
  return {
    async run(write, message, log, signal) {
      let outcome = await write();
      const holdUntil = now() + holdMaxMs;
      let immediate = 0;
      let held = false;
      let awaitedVerdict = false;
      while (isRetryable(outcome) && !signal?.aborted) {
        if (gate && gate.state !== 'closed') {
          // The database is down, not this message: wait for it with the lock kept, and spend nothing.
          held = true;
          if (!(await gate.whenClosed(holdUntil - now(), signal))) break;
        } else if (immediate < options.immediateAttempts) {
          await sleep(Math.floor(random() * options.immediateDelayMs * 2 ** immediate), signal);
          if (signal?.aborted) break;
          immediate++;
          log.debug(
            { stage: 'retry', immediate, code: describeFailure(outcome.error).code },
            'immediate retry',
          );
        } else if (gate?.suspect && !awaitedVerdict) {
          // Its own retries spent while other writes fail too: an outage may be starting. Wait for
          // the breaker to decide rather than spend an attempt the open breaker would have spared.
          awaitedVerdict = true;
          await gate.verdict(verdictWaitMs, signal);
          continue;
        } else break;
        outcome = await write();
      }
      // Shutdown's grace period is over: the message is abandoned, so no job may point at it.
      if (!isRetryable(outcome) || signal?.aborted) return outcome;
      // Held past the bound (or released at shutdown) while the database is still down: the retry
      // tier keeps it, its job due once the database is back.
      const outage = held && gate?.state !== 'closed';
      if (outage) gate?.noteDeferred();

      const { error } = outcome;
      const used = attemptsUsed(message);
      const attempt = used + 1;
      const lastError = describeFailure(error);
      // A failure the outage caused does not end the budget: the message gets the attempt after it,
      // against a database that is back, even past RETRY_MAX_ATTEMPTS (invariant 7).
      if (attempt > options.maxAttempts && !outage) {
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
        redisDown.failed(addError, { stage: 'retry', attempt, messageId: message.messageId });
        // Each redelivery spends budget: without a pause, a Redis outage of a few seconds would
        // spend all of it. The lock is renewed meanwhile; shutdown cuts the pause short.
        await sleep(Math.min(options.baseDelayMs, redisDownPauseMaxMs), signal);
        return { kind: 'abandon', error, retryable: true };
      }
      redisDown.succeeded();
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
