import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import type { TokenObserver } from '../identity/observed-credential.ts';
import type { SqlWriterObserver } from '../pipeline/sql-writer.ts';
import type { RetryWorkerObserver } from '../retry/retry-worker.ts';
import type { ConsumerObserver } from '../servicebus/consumer-options.ts';
import { type Metrics, metricNames as n } from './metrics.ts';

/** Seconds; from a few ms of batching to minutes of backlog or retry. */
const lagBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
const sqlBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const sizeBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000];

const enqueuedAt = (m: ServiceBusReceivedMessage): number | undefined => m.enqueuedTimeUtc?.getTime();

/** The totals both the consumer and the retry worker settle into: one instrument each. */
const settledCounters = (metrics: Metrics) => ({
  completed: metrics.counter(n.completed, 'Messages completed after their effect was committed.'),
  deadLettered: metrics.counter(n.deadLettered, 'Messages dead-lettered, by dead-letter reason.', {
    labelNames: ['reason'],
  }),
});

const deferredCounter = (metrics: Metrics) =>
  metrics.counter(n.deferred, 'Messages deferred in Service Bus while their BullMQ retry job waits.');

/**
 * The retry worker's instruments: each delayed attempt by result. A message it completes or
 * dead-letters counts in the same totals as one the consumer settles.
 */
export function retryMetrics(metrics: Metrics): RetryWorkerObserver {
  const retried = metrics.counter(n.retried, 'Delayed retry attempts the retry worker ran, by result.', {
    labelNames: ['result'],
  });
  const { completed, deadLettered } = settledCounters(metrics);
  const deferred = deferredCounter(metrics);
  return {
    settled(outcome) {
      retried.inc({ result: outcome === 'gone' ? 'gone' : outcome.kind });
      if (outcome === 'gone') return;
      if (outcome.kind === 'complete') completed.inc();
      else if (outcome.kind === 'deadLetter') deadLettered.inc({ reason: outcome.reason });
      else if (outcome.kind === 'defer') deferred.inc();
    },
  };
}

/** The consumer's instruments: what happened to each message and to the receiver. */
export function consumerMetrics(metrics: Metrics, now: () => number = Date.now): ConsumerObserver {
  const received = metrics.counter(n.received, 'Messages received from Service Bus (peek-lock).');
  const { completed, deadLettered } = settledCounters(metrics);
  const abandoned = metrics.counter(
    n.abandoned,
    'Messages abandoned back to Service Bus for redelivery (transient failure or shutdown).',
  );
  const deferred = deferredCounter(metrics);
  const settleFailures = metrics.counter(
    n.settleFailures,
    'Settlements that failed; the message is redelivered when its lock expires. By outcome and Service Bus code.',
    { labelNames: ['outcome', 'code'] },
  );
  const lockLosses = metrics.counter(
    n.lockLosses,
    'Messages whose lock was lost before settlement (MessageLockLost); Service Bus redelivers them.',
  );
  const renewed = metrics.counter(
    n.lockRenewedMessages,
    'Messages whose lock was renewed at least once before settlement.',
  );
  // The consumer renews locks and tells only of failures; a renewal shows as a later lockedUntilUtc.
  const lockedUntil = new WeakMap<ServiceBusReceivedMessage, number>();
  const renewalFailures = metrics.counter(
    n.lockRenewalFailures,
    'Lock renewals that failed (the lock was lost).',
  );
  const receiveErrors = metrics.counter(
    n.receiveErrors,
    'Errors the Service Bus SDK reported while receiving, by error source.',
    { labelNames: ['source'] },
  );
  const restarts = metrics.counter(n.receiverRestarts, 'Receivers replaced by the watchdog after a stall.');
  const lag = metrics.histogram(
    n.lag,
    'Seconds from enqueue in Service Bus to the commit of the message’s effect in SQL.',
    { buckets: lagBuckets },
  );
  return {
    received(message) {
      received.inc();
      const until = message.lockedUntilUtc?.getTime();
      if (until !== undefined) lockedUntil.set(message, until);
      return undefined;
    },
    settling(message) {
      const first = lockedUntil.get(message);
      const now = message.lockedUntilUtc?.getTime();
      if (first !== undefined && now !== undefined && now > first) renewed.inc();
      lockedUntil.delete(message);
    },
    decided(message, outcome) {
      const at = enqueuedAt(message);
      if (outcome.kind === 'complete' && at !== undefined) lag.observe(Math.max(0, (now() - at) / 1000));
    },
    settled(report, outcome) {
      if (!report.settled) {
        settleFailures.inc({ outcome: report.outcome, code: report.errorCode ?? 'unknown' });
        if (report.errorCode === 'MessageLockLost') lockLosses.inc();
        return;
      }
      if (outcome.kind === 'complete') completed.inc();
      else if (outcome.kind === 'deadLetter') deadLettered.inc({ reason: outcome.reason });
      else if (outcome.kind === 'abandon') abandoned.inc();
      else deferred.inc();
    },
    receiveError(source) {
      receiveErrors.inc({ source });
      if (source === 'renewLock') renewalFailures.inc();
    },
    receiverRestarted: () => restarts.inc(),
  };
}

/** The SQL writer's instruments: batch sizes and transaction latency. */
export function writerMetrics(metrics: Metrics): SqlWriterObserver {
  const size = metrics.histogram(n.batchSize, 'Messages per batch handed to the SQL writer.', {
    buckets: sizeBuckets,
  });
  const duration = metrics.histogram(
    n.sqlWriteDuration,
    'Seconds per SQL write transaction (inbox dedupe + domain writes), by result.',
    { buckets: sqlBuckets, labelNames: ['result'] },
  );
  return {
    batch: (events) => size.observe(events),
    transaction: (seconds, result) => duration.observe({ result }, seconds),
  };
}

/** Token refreshes per audience: each one a request that reached the identity endpoint. */
export function tokenMetrics(metrics: Metrics): TokenObserver {
  const refreshes = metrics.counter(
    n.tokenRefreshes,
    'Tokens newly issued by the identity endpoint, by scope (cached answers are not counted).',
    { labelNames: ['scope'] },
  );
  const failures = metrics.counter(n.tokenFailures, 'Token requests that failed, by scope.', {
    labelNames: ['scope'],
  });
  return {
    refreshed: (scope) => refreshes.inc({ scope }),
    failed: (scope) => failures.inc({ scope }),
  };
}
