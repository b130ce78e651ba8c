import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus names of the instruments the pipeline defines; components add their own with `counter`/`gauge`/`histogram`. */
export const metricNames = {
  received: 'keyless_messages_received_total',
  completed: 'keyless_messages_completed_total',
  deadLettered: 'keyless_messages_dead_lettered_total',
  abandoned: 'keyless_messages_abandoned_total',
  settleFailures: 'keyless_settle_failures_total',
  lockLosses: 'keyless_lock_losses_total',
  lockRenewedMessages: 'keyless_lock_renewed_messages_total',
  lockRenewalFailures: 'keyless_lock_renewal_failures_total',
  receiveErrors: 'keyless_receive_errors_total',
  receiverRestarts: 'keyless_receiver_restarts_total',
  inFlight: 'keyless_messages_in_flight',
  batchSize: 'keyless_batch_size_messages',
  sqlWriteDuration: 'keyless_sql_write_duration_seconds',
  lag: 'keyless_end_to_end_lag_seconds',
  tokenRefreshes: 'keyless_token_refreshes_total',
  tokenFailures: 'keyless_token_failures_total',
  deferred: 'keyless_messages_deferred_total',
  retried: 'keyless_messages_retried_total',
  retryQueueDepth: 'keyless_retry_queue_depth',
  breakerState: 'keyless_breaker_state',
  breakerTransitions: 'keyless_breaker_transitions_total',
  breakerOpenSeconds: 'keyless_breaker_open_seconds',
} as const;

type InstrumentOptions<L extends string> = { labelNames?: readonly L[] };

/**
 * One Prometheus registry for the process and the instruments in it. A component that produces a
 * figure registers its instrument here (`metrics.counter(...)`), so no instrument exists that
 * nothing moves. Registering a name twice returns the first instrument.
 */
export type Metrics = {
  readonly registry: Registry;
  counter<L extends string = string>(name: string, help: string, options?: InstrumentOptions<L>): Counter<L>;
  /** `collect` runs at each scrape, for figures read from a component (queue depth, in flight). */
  gauge<L extends string = string>(
    name: string,
    help: string,
    options?: InstrumentOptions<L> & { collect?: (gauge: Gauge<L>) => void | Promise<void> },
  ): Gauge<L>;
  histogram<L extends string = string>(
    name: string,
    help: string,
    options: InstrumentOptions<L> & { buckets: readonly number[] },
  ): Histogram<L>;
  /** The Prometheus text exposition of every instrument. */
  text(): Promise<string>;
  readonly contentType: string;
};

export type MetricsOptions = {
  /** Node process metrics (CPU, memory, event-loop lag, GC, handles). @defaultValue true */
  processMetrics?: boolean;
};

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const existing = <T>(name: string): T | undefined => registry.getSingleMetric(name) as T | undefined;
  return {
    registry,
    counter: (name, help, o = {}) =>
      existing(name) ?? new Counter({ name, help, labelNames: o.labelNames ?? [], registers: [registry] }),
    gauge: (name, help, o = {}) => {
      const found = existing<Gauge>(name);
      if (found) return found as never;
      const collect = o.collect;
      return new Gauge({
        name,
        help,
        labelNames: o.labelNames ?? [],
        registers: [registry],
        ...(collect
          ? {
              collect() {
                return collect(this);
              },
            }
          : {}),
      });
    },
    histogram: (name, help, o) =>
      existing(name) ??
      new Histogram({
        name,
        help,
        labelNames: o.labelNames ?? [],
        buckets: [...o.buckets],
        registers: [registry],
      }),
    text: () => registry.metrics(),
    contentType: registry.contentType,
  };
}
