import { z } from 'zod';
import { defaults } from './defaults.ts';

/** Every variable the worker reads: its meaning and default. The README's table mirrors this list. */
export const variables = {
  AZURE_CREDENTIAL:
    "'managed-identity' (default) or 'developer' (DefaultAzureCredential: Azure CLI, VS Code)",
  AZURE_CLIENT_ID: 'client id (GUID) of the user-assigned managed identity; unset = system-assigned',
  IDENTITY_STARTUP_TIMEOUT_MS: `how long start retries the first token, in ms (default ${defaults.identityStartupTimeoutMs})`,
  KEY_VAULT_URL: 'vault URL, https://NAME.vault.azure.net (optional)',
  KEY_VAULT_SECRETS: 'comma-separated secret names loaded at start (default none; needs KEY_VAULT_URL)',
  KEY_VAULT_REFRESH_MS: `how often secrets are re-read to pick up rotation, in ms (default ${defaults.keyVaultRefreshMs})`,
  SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: 'NAME.servicebus.windows.net (required)',
  SERVICEBUS_QUEUE: 'queue to consume (required unless SERVICEBUS_TOPIC + SERVICEBUS_SUBSCRIPTION)',
  SERVICEBUS_TOPIC: 'topic to consume, with SERVICEBUS_SUBSCRIPTION',
  SERVICEBUS_SUBSCRIPTION: 'subscription of SERVICEBUS_TOPIC',
  SERVICEBUS_ENDPOINT: 'custom AMQP endpoint, sb://HOST:PORT (local stand-in; default: the namespace)',
  SERVICEBUS_CONCURRENCY: `messages in flight, the credit window (default ${defaults.serviceBusConcurrency})`,
  SERVICEBUS_LOCK_RENEWAL_MAX_MS: `how long the lock of one held message is renewed at most, in ms (default ${defaults.lockRenewalMaxMs})`,
  SQL_SERVER: 'server host name, NAME.database.windows.net (required)',
  SQL_PORT: `TDS port (default ${defaults.sqlPort})`,
  SQL_DATABASE: 'database name (required: the identity has no user in master)',
  SQL_AUTH: "'token' (default, managed identity) or 'password' (local SQL Server containers only)",
  SQL_USER: 'login for SQL_AUTH=password',
  SQL_PASSWORD: 'password for SQL_AUTH=password',
  SQL_ENCRYPT: "'true' (default) or 'false' (local SQL Server containers only)",
  SQL_POOL_MAX: `connections in the pool (default ${defaults.sqlPoolMax})`,
  SQL_SCHEMA_WAIT_MS: `how long start waits, not ready, for the migrations to create the schema, in ms (default ${defaults.sqlSchemaWaitMs}; 0 = stop at once)`,
  SQL_TOKEN_MAX_AGE_MS: `connections are replaced after this age, before their token expires (default ${defaults.sqlTokenMaxAgeMs})`,
  SQL_TRUST_SERVER_CERTIFICATE:
    "'true' accepts the server's self-signed certificate, still encrypted (local SQL Server containers only; default 'false')",
  REDIS_URL: `Redis for the retry queue (default ${defaults.redisUrl})`,
  REDIS_AUTH:
    "'none' (default) or 'entra' (Azure Redis: the identity's object id and a token for https://redis.azure.com)",
  RETRY_IMMEDIATE_ATTEMPTS: `in-process retries of a transient write failure before deferring (default ${defaults.retryImmediateAttempts})`,
  RETRY_IMMEDIATE_DELAY_MS: `bound of the first immediate retry wait, doubled for the next, in ms (default ${defaults.retryImmediateDelayMs})`,
  RETRY_BASE_DELAY_MS: `delay bound of the first delayed retry, full jitter below it, in ms (default ${defaults.retryBaseDelayMs})`,
  RETRY_FACTOR: `growth of the delay bound per delayed attempt (default ${defaults.retryFactor})`,
  RETRY_MAX_DELAY_MS: `cap of the delay bound, in ms (default ${defaults.retryMaxDelayMs})`,
  RETRY_MAX_ATTEMPTS: `delayed attempts before dead-lettering as RetriesExhausted; below SERVICEBUS_MAX_DELIVERY_COUNT (default ${defaults.retryMaxAttempts})`,
  RETRY_CONCURRENCY: `retry jobs run at once by the retry worker (default ${defaults.retryConcurrency})`,
  RETRY_RECONCILE_MS: `how often deferred messages without a job get one again, in ms (default ${defaults.retryReconcileMs})`,
  SERVICEBUS_MAX_DELIVERY_COUNT: `the entity's MaxDeliveryCount, checked against RETRY_MAX_ATTEMPTS (default ${defaults.maxDeliveryCount})`,
  BREAKER_THRESHOLD: `consecutive transient batch failures that open the write path's breaker, 0 = never (default ${defaults.breakerThreshold})`,
  BREAKER_HOLD_MAX_MS: `how long messages held while the breaker is open wait for the database before they are deferred, in ms; below SERVICEBUS_LOCK_RENEWAL_MAX_MS (default ${defaults.breakerHoldMaxMs})`,
  BREAKER_PROBE_MIN_MS: `bound of the first database probe's delay while the breaker is open, doubled per failed probe, in ms (default ${defaults.breakerProbeMinMs})`,
  BREAKER_PROBE_MAX_MS: `cap of the probe delay bound, in ms (default ${defaults.breakerProbeMaxMs})`,
  BATCH_MAX_SIZE: `messages written in one SQL transaction (default ${defaults.batchMaxSize})`,
  BATCH_FLUSH_MS: `how long a batch waits to fill, in ms (default ${defaults.batchFlushMs})`,
  SHUTDOWN_GRACE_MS: `time in-flight messages get to finish on shutdown, in ms (default ${defaults.shutdownGraceMs})`,
  LOG_LEVEL: 'fatal, error, warn, info (default), debug or trace',
  HTTP_PORT: `port of /healthz, /readyz and /metrics (default ${defaults.httpPort}; 0 = any free port)`,
  HTTP_HOST: `address they listen on (default ${defaults.httpHost}, every interface, for the platform's probes; npm start sets 127.0.0.1)`,
  OTEL_EXPORTER_OTLP_ENDPOINT:
    'OTLP collector base URL for traces and metrics, e.g. http://localhost:4318 (default: off); Container Apps sets it for its managed agent',
  OTEL_EXPORTER_OTLP_PROTOCOL:
    "'http/json' (default) or 'grpc' (Container Apps' managed agent takes gRPC only and sets this)",
  OTEL_METRIC_EXPORT_INTERVAL: `how often metrics are pushed over OTLP and to Azure Monitor, in ms (default ${defaults.metricExportIntervalMs})`,
  APPLICATIONINSIGHTS_CONNECTION_STRING:
    'Application Insights connection string for traces and metrics, sent with the managed identity (default: off)',
  HANDLERS_MODULE:
    'path of a module that exports `handlers`, the event types to handle (default: the shipped list, src/handlers/handlers.ts)',
  INBOX_RETENTION_DAYS: `days a processed message id stays in dbo.Inbox, 0 = forever (default ${defaults.inboxRetentionDays}); must exceed the replay horizon`,
} as const;

export type VariableName = keyof typeof variables;

/** One error for every bad variable at once, so an operator fixes them in one go. */
export class ConfigError extends Error {
  readonly code = 'InvalidConfig';
  readonly problems: readonly { variable: string; problem: string }[];
  constructor(problems: readonly { variable: string; problem: string }[]) {
    super(
      `Invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.problem} (${variables[p.variable as VariableName] ?? ''})`).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const optional = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();
const int = (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === undefined || v === '' ? String(fallback) : v))
    .pipe(
      z
        .string()
        .regex(/^\d+$/, 'expected a whole number')
        .transform(Number)
        .pipe(z.number().int().min(min, `expected at least ${min}`).max(max, `expected at most ${max}`)),
    );
const required = z.string({ error: 'is required but not set' }).trim().min(1, 'is required but empty');
const oneOf = <const T extends readonly [string, ...string[]]>(values: T, fallback: T[number]) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === undefined || v === '' ? fallback : v))
    .pipe(z.enum(values, { error: `expected one of ${values.join(', ')}` }));
const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The environment's shape: every variable, its parser and its default. */
export const schema = z.object({
  AZURE_CREDENTIAL: oneOf(['managed-identity', 'developer'], 'managed-identity'),
  AZURE_CLIENT_ID: optional.refine((v) => v === undefined || guid.test(v), 'expected a GUID'),
  IDENTITY_STARTUP_TIMEOUT_MS: int(defaults.identityStartupTimeoutMs, 0),
  KEY_VAULT_URL: optional.refine(
    (v) => v === undefined || /^https?:\/\/[^/]+\/?$/.test(v),
    'expected https://NAME.vault.azure.net',
  ),
  KEY_VAULT_SECRETS: optional.transform((v) =>
    v
      ? v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [],
  ),
  KEY_VAULT_REFRESH_MS: int(defaults.keyVaultRefreshMs, 1_000),
  SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: required.refine(
    (v) => !v.includes('://') && !/;|SharedAccessKey/i.test(v),
    'expected a host name such as NAME.servicebus.windows.net (no scheme, no connection string)',
  ),
  SERVICEBUS_QUEUE: optional,
  SERVICEBUS_TOPIC: optional,
  SERVICEBUS_SUBSCRIPTION: optional,
  SERVICEBUS_ENDPOINT: optional.refine(
    (v) => v === undefined || /^sb:\/\/[^/]+\/?$/.test(v),
    'expected sb://HOST:PORT',
  ),
  SERVICEBUS_CONCURRENCY: int(defaults.serviceBusConcurrency, 1, 5_000),
  SERVICEBUS_LOCK_RENEWAL_MAX_MS: int(defaults.lockRenewalMaxMs, 1),
  SQL_SERVER: required,
  SQL_PORT: int(defaults.sqlPort, 1, 65_535),
  SQL_DATABASE: required.refine(
    (v) => v.toLowerCase() !== 'master',
    "must name the application database, not 'master'",
  ),
  SQL_AUTH: oneOf(['token', 'password'], 'token'),
  SQL_USER: optional,
  SQL_PASSWORD: optional,
  SQL_ENCRYPT: oneOf(['true', 'false'], 'true'),
  SQL_POOL_MAX: int(defaults.sqlPoolMax, 1, 1_000),
  SQL_SCHEMA_WAIT_MS: int(defaults.sqlSchemaWaitMs, 0, 86_400_000),
  SQL_TOKEN_MAX_AGE_MS: int(defaults.sqlTokenMaxAgeMs, 10_000),
  SQL_TRUST_SERVER_CERTIFICATE: oneOf(['true', 'false'], 'false'),
  REDIS_URL: optional.refine((v) => v === undefined || /^rediss?:\/\//.test(v), 'expected redis://HOST:PORT'),
  REDIS_AUTH: oneOf(['none', 'entra'], 'none'),
  RETRY_IMMEDIATE_ATTEMPTS: int(defaults.retryImmediateAttempts, 0, 10),
  RETRY_IMMEDIATE_DELAY_MS: int(defaults.retryImmediateDelayMs, 0, 10_000),
  RETRY_BASE_DELAY_MS: int(defaults.retryBaseDelayMs, 0),
  RETRY_FACTOR: int(defaults.retryFactor, 1, 10),
  RETRY_MAX_DELAY_MS: int(defaults.retryMaxDelayMs, 0),
  RETRY_MAX_ATTEMPTS: int(defaults.retryMaxAttempts, 0, 1_000),
  RETRY_CONCURRENCY: int(defaults.retryConcurrency, 1, 1_000),
  RETRY_RECONCILE_MS: int(defaults.retryReconcileMs, 100),
  SERVICEBUS_MAX_DELIVERY_COUNT: int(defaults.maxDeliveryCount, 1, 2_000),
  BREAKER_THRESHOLD: int(defaults.breakerThreshold, 0, 1_000),
  BREAKER_HOLD_MAX_MS: int(defaults.breakerHoldMaxMs, 0),
  BREAKER_PROBE_MIN_MS: int(defaults.breakerProbeMinMs, 10),
  BREAKER_PROBE_MAX_MS: int(defaults.breakerProbeMaxMs, 10),
  BATCH_MAX_SIZE: int(defaults.batchMaxSize, 1, 5_000),
  BATCH_FLUSH_MS: int(defaults.batchFlushMs, 0, 60_000),
  SHUTDOWN_GRACE_MS: int(defaults.shutdownGraceMs, 0),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace'], 'info'),
  HTTP_PORT: int(defaults.httpPort, 0, 65_535),
  HTTP_HOST: z
    .string()
    .trim()
    .optional()
    .transform((v) => v || defaults.httpHost)
    .pipe(z.string().regex(/^[\w.:-]+$/, 'expected an address such as 0.0.0.0, 127.0.0.1 or ::')),
  OTEL_EXPORTER_OTLP_ENDPOINT: optional.refine(
    (v) => v === undefined || /^https?:\/\/[^/\s]+/.test(v),
    'expected http(s)://HOST:PORT',
  ),
  OTEL_EXPORTER_OTLP_PROTOCOL: oneOf(['http/json', 'grpc'], 'http/json'),
  OTEL_METRIC_EXPORT_INTERVAL: int(defaults.metricExportIntervalMs, 1_000, 3_600_000),
  APPLICATIONINSIGHTS_CONNECTION_STRING: optional.refine(
    (v) => v === undefined || /(^|;)\s*InstrumentationKey=[0-9a-f-]{36}\s*(;|$)/i.test(v),
    'expected InstrumentationKey=GUID;IngestionEndpoint=https://…',
  ),
  INBOX_RETENTION_DAYS: int(defaults.inboxRetentionDays, 0, 36_500),
  HANDLERS_MODULE: optional,
});
