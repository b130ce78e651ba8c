import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import type { TokenObserver } from '../identity/observed-credential.ts';
import { type Metrics, metricNames as n } from '../metrics-registry.ts';
import type { SqlWriterObserver } from '../pipeline/sql-writer.ts';
import type { RetryWorkerObserver } from '../retry/retry-worker.ts';
import type { ConsumerObserver } from '../servicebus/consumer-options.ts';
import type { MessageObserver } from '../servicebus/message-path.ts';

/** Seconds; from a few ms of batching to minutes of backlog or retry. */
const lagBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
const sqlBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const sizeBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000];

const enqueuedAt = (m: ServiceBusReceivedMessage): number | undefined => m.enqueuedTimeUtc?.getTime();

/**
 * What happened to each message, whichever source brought it (the receive link or a retry job):
 * one instrument per outcome, and the delayed attempts by result. The one place outcomes are counted.
 */
export function messageMetrics(metrics: Metrics, now: () => number = Date.now): MessageObserver {
  const received = metrics.counter(n.received, 'Messages received from Service Bus (peek-lock).');
  const completed = metrics.counter(n.completed, 'Messages completed after their effect was committed.');
  const deadLettered = metrics.counter(n.deadLettered, 'Messages dead-lettered, by dead-letter reason.', {
    labelNames: ['reason'],
  });
  const abandoned = metrics.counter(
    n.abandoned,
    'Messages abandoned back to Service Bus for redelivery (transient failure or shutdown).',
  );
  const deferred = metrics.counter(
    n.deferred,
    'Messages deferred in Service Bus while their BullMQ retry job waits.',
  );
  const retried = retriedCounter(metrics);
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
  const renewalFailures = metrics.counter(
    n.lockRenewalFailures,
    'Lock renewals that failed (the lock was lost).',
  );
  const receiveErrors = receiveErrorCounter(metrics);
  const lag = metrics.histogram(
    n.lag,
    'Seconds from enqueue in Service Bus to the commit of the message’s effect in SQL.',
    { buckets: lagBuckets },
  );
  return {
    received(_message, source) {
      if (source === 'receive') received.inc();
      return undefined;
    },
    decided(message, outcome) {
      const at = enqueuedAt(message);
      if (outcome.kind === 'complete' && at !== undefined) lag.observe(Math.max(0, (now() - at) / 1000));
    },
    settling(_message, _outcome, _source, lockRenewed) {
      if (lockRenewed) renewed.inc();
    },
    settled(report, outcome, _message, source) {
      if (!report.settled) {
        settleFailures.inc({ outcome: report.outcome, code: report.errorCode ?? 'unknown' });
        if (report.errorCode === 'MessageLockLost') lockLosses.inc();
        return;
      }
      if (source === 'retry') retried.inc({ result: outcome.kind });
      if (outcome.kind === 'complete') completed.inc();
      else if (outcome.kind === 'deadLetter') deadLettered.inc({ reason: outcome.reason });
      else if (outcome.kind === 'abandon') abandoned.inc();
      else deferred.inc();
    },
    renewalFailed() {
      receiveErrors.inc({ source: 'renewLock' });
      renewalFailures.inc();
    },
  };
}

const retriedCounter = (metrics: Metrics) =>
  metrics.counter(n.retried, 'Delayed retry attempts the retry worker ran, by result.', {
    labelNames: ['result'],
  });

const receiveErrorCounter = (metrics: Metrics) =>
  metrics.counter(n.receiveErrors, 'Errors the Service Bus SDK reported while receiving, by error source.', {
    labelNames: ['source'],
  });

/** The receive link's instruments: SDK errors and watchdog restarts. */
export function receiverMetrics(metrics: Metrics): ConsumerObserver {
  const receiveErrors = receiveErrorCounter(metrics);
  const restarts = metrics.counter(n.receiverRestarts, 'Receivers replaced by the watchdog after a stall.');
  return {
    receiveError: (source) => receiveErrors.inc({ source }),
    receiverRestarted: () => restarts.inc(),
  };
}

/** Retry jobs that found their message settled already: counted with the attempts, as `gone`. */
export function retryMetrics(metrics: Metrics): RetryWorkerObserver {
  const retried = retriedCounter(metrics);
  return { gone: () => retried.inc({ result: 'gone' }) };
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
