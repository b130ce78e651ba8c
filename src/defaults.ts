/**
 * Every default of the worker in one place: the config schema, the components' own options and
 * (through `variables` in config.ts) the README's table read them from here, so they cannot drift.
 */
export const defaults = {
  /** How long start retries the first token while the identity endpoint comes up. */
  identityStartupTimeoutMs: 60_000,
  /** How often Key Vault secrets are re-read to pick up a rotated version. */
  keyVaultRefreshMs: 300_000,
  /**
   * Messages held at once: the receiver's credit window. A message holds its credit until its batch
   * commits, so the window must exceed BATCH_MAX_SIZE for batches to fill (README, Performance).
   */
  serviceBusConcurrency: 256,
  /** Upper bound of automatic lock renewal for one message. */
  lockRenewalMaxMs: 300_000,
  /** How long one settlement may take before it counts as failed (its lock then expires). */
  settleTimeoutMs: 10_000,
  /** A receiver that delivered nothing this long while messages wait counts as stalled. */
  watchdogIdleMs: 60_000,
  sqlPort: 1433,
  sqlPoolMax: 10,
  /** Pooled connections are replaced before their login token ages out (45 min). */
  sqlTokenMaxAgeMs: 2_700_000,
  sqlConnectTimeoutMs: 15_000,
  /** TDS packet size asked at login, in bytes: SQL Server's largest. */
  sqlPacketSize: 32_767,
  /** How long the start-time SQL check retries a transient failure (failover, throttling). */
  sqlStartupRetryMs: 60_000,
  sqlRequestTimeoutMs: 30_000,
  /** How long a caller waits for a pooled connection. */
  sqlAcquireTimeoutMs: 15_000,
  /** An idle pooled connection is closed after this long. */
  sqlIdleTimeoutMs: 30_000,
  redisUrl: 'redis://127.0.0.1:6379',
  /** In-process retries of a transient write failure before the message is deferred. */
  retryImmediateAttempts: 2,
  /** Bound of the first immediate retry wait, doubled for the next. */
  retryImmediateDelayMs: 200,
  /** Delay bound of the first delayed retry; full jitter below it. */
  retryBaseDelayMs: 5_000,
  retryFactor: 2,
  retryMaxDelayMs: 600_000,
  /** Delayed attempts before RetriesExhausted; must stay below the entity's max delivery count. */
  retryMaxAttempts: 8,
  /**
   * Retry jobs run at once. Jobs running together share one receive-by-sequence-number request and
   * one batch: with 4 a backlog of deferred messages came back at about 100 msg/s, with 64 at 750
   * (npm run bench -- --outage --retry-path).
   */
  retryConcurrency: 64,
  retryReconcileMs: 60_000,
  /** The entity's MaxDeliveryCount (Service Bus default 10). */
  maxDeliveryCount: 10,
  /**
   * Consecutive transient batch failures that open the write path's breaker. One dropped connection
   * or deadlock fails one batch, whose messages retry in place; a failover drops the pooled
   * connections one batch at a time, a few failures. Five in a row, with no batch going through
   * between them, is the database refusing everything.
   */
  breakerThreshold: 5,
  /** How long held messages wait for the database before they go the retry tier's way. */
  breakerHoldMaxMs: 120_000,
  /** Bound of the first probe delay while the breaker is open; doubles per failed probe. */
  breakerProbeMinMs: 1_000,
  /** Cap of the probe delay bound. */
  breakerProbeMaxMs: 30_000,
  batchMaxSize: 100,
  batchFlushMs: 5,
  /** Port of /healthz, /readyz and /metrics. */
  httpPort: 8080,
  /** Address they listen on: every interface, where the platform's probes reach the container. */
  httpHost: '0.0.0.0',
  /** Days a processed message id stays in dbo.Inbox (0 = forever); must exceed the replay horizon. */
  inboxRetentionDays: 30,
  /** How often the metrics are pushed over OTLP and to Azure Monitor (OpenTelemetry's default). */
  metricExportIntervalMs: 60_000,
  /**
   * How long start waits for the migrations to create the schema before it gives up: the migration
   * job's own time limit (replicaTimeout in containerapp.migrate-job.yaml).
   */
  sqlSchemaWaitMs: 600_000,
  /** Time in-flight messages get to finish on shutdown. */
  shutdownGraceMs: 25_000,
} as const;
