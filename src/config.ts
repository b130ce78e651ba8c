import { z } from 'zod';
import { defaults } from './defaults.ts';
import type { ServiceBusEntity } from './servicebus/entity.ts';

/** Which credential the process uses. Production is always `managed-identity`. */
export type CredentialKind = 'managed-identity' | 'developer';

export type SqlAuth = { kind: 'token' } | { kind: 'password'; user: string; password: string };

/** The worker's whole configuration, parsed once from the environment at start. */
export type Config = Readonly<{
  identity: Readonly<{
    /** @defaultValue 'managed-identity' */
    credential: CredentialKind;
    /** Client id of the user-assigned identity; absent = system-assigned. */
    clientId: string | undefined;
    /** How long start waits for the first token while the identity endpoint comes up. @defaultValue 60000 */
    startupTimeoutMs: number;
  }>;
  keyVault: Readonly<{
    /** @defaultValue undefined (no Key Vault) */
    url: string | undefined;
    /** Secrets the worker loads at start and keeps fresh. @defaultValue [] */
    secrets: readonly string[];
    /** How often secrets are re-read so a rotated version is picked up. @defaultValue 300000 */
    refreshMs: number;
  }>;
  serviceBus: Readonly<{
    fullyQualifiedNamespace: string;
    entity: ServiceBusEntity;
    /** AMQP endpoint when it differs from the namespace's (local stand-in). @defaultValue undefined */
    endpoint: string | undefined;
    /** Messages held at once: the receiver's credit window, wide enough to fill batches. @defaultValue 256 */
    concurrency: number;
    /** Upper bound of automatic lock renewal; covers the worst-case processing time. @defaultValue 300000 */
    lockRenewalMaxMs: number;
  }>;
  sql: Readonly<{
    server: string;
    /** @defaultValue 1433 */
    port: number;
    database: string;
    /** @defaultValue { kind: 'token' } */
    auth: SqlAuth;
    /** @defaultValue true */
    encrypt: boolean;
    /** @defaultValue 10 */
    poolMax: number;
    /** Connections are replaced before their login token ages out. @defaultValue 2700000 (45 min) */
    tokenMaxAgeMs: number;
    /** Accept a certificate no trusted CA signed (a SQL Server container's own), still encrypted. @defaultValue false */
    trustServerCertificate: boolean;
  }>;
  redis: Readonly<{
    /** @defaultValue 'redis://127.0.0.1:6379' */
    url: string;
    /** `entra`: AUTH as the identity's object id with a token for Azure Redis. @defaultValue 'none' */
    auth: 'none' | 'entra';
  }>;
  retry: Readonly<{
    /** In-process retries of a transient write failure before the message is deferred. @defaultValue 2 */
    immediateAttempts: number;
    /** Upper bound of the first immediate retry's jittered wait; doubles for the next. @defaultValue 200 */
    immediateDelayMs: number;
    /** Delay bound of the first delayed retry (full jitter below it). @defaultValue 5000 */
    baseDelayMs: number;
    /** Growth of the delay bound per attempt. @defaultValue 2 */
    factor: number;
    /** Cap of the delay bound. @defaultValue 600000 (10 min) */
    maxDelayMs: number;
    /** Delayed attempts a message gets before it is dead-lettered as RetriesExhausted. @defaultValue 8 */
    maxAttempts: number;
    /** Retry jobs the retry worker runs at once. @defaultValue 4 */
    concurrency: number;
    /** How often the reconciler looks for deferred messages without a job. @defaultValue 60000 */
    reconcileMs: number;
    /** The entity's MaxDeliveryCount, which the attempt budget must fit under. @defaultValue 10 */
    maxDeliveryCount: number;
  }>;
  batch: Readonly<{
    /** @defaultValue 100 */
    maxSize: number;
    /** @defaultValue 5 */
    flushMs: number;
  }>;
  /** Time in-flight messages get to finish on shutdown. @defaultValue 25000 */
  shutdownGraceMs: number;
  /** @defaultValue 'info' */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  http: Readonly<{
    /** Port of /healthz, /readyz and /metrics; 0 picks a free one. @defaultValue 8080 */
    port: number;
  }>;
  /** Trace export; neither set = tracing off. */
  telemetry: Readonly<{
    /** OTLP/HTTP base URL of a collector. @defaultValue undefined */
    otlpEndpoint: string | undefined;
    /** Application Insights connection string; ingestion authenticates with the managed identity. @defaultValue undefined */
    applicationInsightsConnectionString: string | undefined;
  }>;
  inbox: Readonly<{
    /**
     * Days a processed message id stays in dbo.Inbox; 0 keeps it forever. Must exceed the replay
     * horizon, or a late replay applies twice. @defaultValue 30
     */
    retentionDays: number;
  }>;
}>;

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
  SERVICEBUS_LOCK_RENEWAL_MAX_MS: `upper bound of automatic lock renewal, in ms (default ${defaults.lockRenewalMaxMs})`,
  SQL_SERVER: 'server host name, NAME.database.windows.net (required)',
  SQL_PORT: `TDS port (default ${defaults.sqlPort})`,
  SQL_DATABASE: 'database name (required: the identity has no user in master)',
  SQL_AUTH: "'token' (default, managed identity) or 'password' (local SQL Server containers only)",
  SQL_USER: 'login for SQL_AUTH=password',
  SQL_PASSWORD: 'password for SQL_AUTH=password',
  SQL_ENCRYPT: "'true' (default) or 'false' (local SQL Server containers only)",
  SQL_POOL_MAX: `connections in the pool (default ${defaults.sqlPoolMax})`,
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
  BATCH_MAX_SIZE: `messages written in one SQL transaction (default ${defaults.batchMaxSize})`,
  BATCH_FLUSH_MS: `how long a batch waits to fill, in ms (default ${defaults.batchFlushMs})`,
  SHUTDOWN_GRACE_MS: `time in-flight messages get to finish on shutdown, in ms (default ${defaults.shutdownGraceMs})`,
  LOG_LEVEL: 'fatal, error, warn, info (default), debug or trace',
  HTTP_PORT: `port of /healthz, /readyz and /metrics (default ${defaults.httpPort}; 0 = any free port)`,
  OTEL_EXPORTER_OTLP_ENDPOINT:
    'OTLP/HTTP collector base URL for traces, e.g. http://localhost:4318 (default: off)',
  APPLICATIONINSIGHTS_CONNECTION_STRING:
    'Application Insights connection string for traces, sent with the managed identity (default: off)',
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

const schema = z.object({
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
  BATCH_MAX_SIZE: int(defaults.batchMaxSize, 1, 5_000),
  BATCH_FLUSH_MS: int(defaults.batchFlushMs, 0, 60_000),
  SHUTDOWN_GRACE_MS: int(defaults.shutdownGraceMs, 0),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace'], 'info'),
  HTTP_PORT: int(defaults.httpPort, 0, 65_535),
  OTEL_EXPORTER_OTLP_ENDPOINT: optional.refine(
    (v) => v === undefined || /^https?:\/\/[^/\s]+/.test(v),
    'expected http(s)://HOST:PORT',
  ),
  APPLICATIONINSIGHTS_CONNECTION_STRING: optional.refine(
    (v) => v === undefined || /(^|;)\s*InstrumentationKey=[0-9a-f-]{36}\s*(;|$)/i.test(v),
    'expected InstrumentationKey=GUID;IngestionEndpoint=https://…',
  ),
  INBOX_RETENTION_DAYS: int(defaults.inboxRetentionDays, 0, 36_500),
});

type Env = Readonly<Record<string, string | undefined>>;
type Parsed = z.infer<typeof schema>;
type Problems = { variable: string; problem: string }[];

function parseWith<T extends z.ZodType>(part: T, env: Env): z.infer<T> {
  const parsed = part.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({
        variable: String(i.path[0] ?? '(environment)'),
        problem: i.message,
      })),
    );
  }
  return parsed.data;
}

// A part is every variable under its prefixes, so a variable added to the schema joins its part.
type Part<P extends string> = Pick<Parsed, Extract<keyof Parsed, `${P}${string}`>>;
const serviceBusKeys = ['SERVICEBUS_'] as const;
const sqlKeys = ['SQL_'] as const;
const identityKeys = ['AZURE_', 'IDENTITY_'] as const;
const keyVaultKeys = ['KEY_VAULT_'] as const;

function serviceBusFrom(e: Part<'SERVICEBUS_'>, problems: Problems) {
  let entity: ServiceBusEntity | undefined;
  if (e.SERVICEBUS_QUEUE && (e.SERVICEBUS_TOPIC || e.SERVICEBUS_SUBSCRIPTION)) {
    problems.push({
      variable: 'SERVICEBUS_QUEUE',
      problem: 'set either a queue or a topic with a subscription, not both',
    });
  } else if (e.SERVICEBUS_QUEUE) {
    entity = { queue: e.SERVICEBUS_QUEUE };
  } else if (e.SERVICEBUS_TOPIC && e.SERVICEBUS_SUBSCRIPTION) {
    entity = { topic: e.SERVICEBUS_TOPIC, subscription: e.SERVICEBUS_SUBSCRIPTION };
  } else if (e.SERVICEBUS_TOPIC) {
    problems.push({ variable: 'SERVICEBUS_SUBSCRIPTION', problem: 'is required with SERVICEBUS_TOPIC' });
  } else {
    problems.push({
      variable: 'SERVICEBUS_QUEUE',
      problem: 'is required (or SERVICEBUS_TOPIC + SERVICEBUS_SUBSCRIPTION)',
    });
  }
  return {
    fullyQualifiedNamespace: e.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE,
    entity: entity as ServiceBusEntity,
    endpoint: e.SERVICEBUS_ENDPOINT,
    concurrency: e.SERVICEBUS_CONCURRENCY,
    lockRenewalMaxMs: e.SERVICEBUS_LOCK_RENEWAL_MAX_MS,
  };
}

function sqlFrom(e: Part<'SQL_'>, problems: Problems): Config['sql'] {
  const azureSql = /\.database\.(windows\.net|azure\.com|chinacloudapi\.cn|usgovcloudapi\.net)$/i.test(
    e.SQL_SERVER,
  );
  let auth: SqlAuth = { kind: 'token' };
  if (e.SQL_AUTH === 'password') {
    // A password is a secret: allowed only for a local SQL Server container, never for Azure SQL.
    if (azureSql) {
      problems.push({
        variable: 'SQL_AUTH',
        problem: "'password' is for local SQL Server only; Azure SQL uses the managed identity",
      });
    }
    if (!e.SQL_USER) problems.push({ variable: 'SQL_USER', problem: 'is required with SQL_AUTH=password' });
    if (!e.SQL_PASSWORD)
      problems.push({ variable: 'SQL_PASSWORD', problem: 'is required with SQL_AUTH=password' });
    auth = { kind: 'password', user: e.SQL_USER ?? '', password: e.SQL_PASSWORD ?? '' };
  } else if (e.SQL_USER || e.SQL_PASSWORD) {
    problems.push({ variable: 'SQL_PASSWORD', problem: 'is only read with SQL_AUTH=password; remove it' });
  }
  if (e.SQL_TRUST_SERVER_CERTIFICATE === 'true' && azureSql) {
    // Azure SQL has a certificate a public CA signed: skipping the check would only let an impostor in.
    problems.push({
      variable: 'SQL_TRUST_SERVER_CERTIFICATE',
      problem: "'true' is for local SQL Server only; Azure SQL's certificate is always verified",
    });
  }
  return {
    server: e.SQL_SERVER,
    port: e.SQL_PORT,
    database: e.SQL_DATABASE,
    auth,
    encrypt: e.SQL_ENCRYPT === 'true',
    poolMax: e.SQL_POOL_MAX,
    tokenMaxAgeMs: e.SQL_TOKEN_MAX_AGE_MS,
    trustServerCertificate: e.SQL_TRUST_SERVER_CERTIFICATE === 'true',
  };
}

const identityFrom = (e: Part<'AZURE_' | 'IDENTITY_'>): Config['identity'] => ({
  credential: e.AZURE_CREDENTIAL,
  clientId: e.AZURE_CLIENT_ID,
  startupTimeoutMs: e.IDENTITY_STARTUP_TIMEOUT_MS,
});

function keyVaultFrom(e: Part<'KEY_VAULT_'>, problems: Problems): Config['keyVault'] {
  if (e.KEY_VAULT_SECRETS.length > 0 && !e.KEY_VAULT_URL) {
    problems.push({ variable: 'KEY_VAULT_URL', problem: 'is required when KEY_VAULT_SECRETS is set' });
  }
  return { url: e.KEY_VAULT_URL, secrets: e.KEY_VAULT_SECRETS, refreshMs: e.KEY_VAULT_REFRESH_MS };
}

/** One part of the configuration, parsed by the same rules as the whole (for scripts that need only it). */
function loadPart<P extends string, R>(
  prefixes: readonly P[],
  build: (e: Part<P>, problems: Problems) => R,
  env: Env,
): R {
  const keys = Object.keys(schema.shape).filter((k) => prefixes.some((p) => k.startsWith(p)));
  const mask = Object.fromEntries(keys.map((k) => [k, true])) as Record<keyof Parsed, true>;
  const e = parseWith(schema.pick(mask), env) as Part<P>;
  const problems: Problems = [];
  const part = build(e, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(part);
}

/** The SQL settings alone (`SQL_*`), validated as the worker validates them. */
export const loadSqlConfig = (env: Env): Config['sql'] => loadPart(sqlKeys, sqlFrom, env);
/** The Service Bus settings alone (`SERVICEBUS_*`). */
export const loadServiceBusConfig = (env: Env): Config['serviceBus'] =>
  loadPart(serviceBusKeys, serviceBusFrom, env);
/** Which identity the process uses (`AZURE_CREDENTIAL`, `AZURE_CLIENT_ID`). */
export const loadIdentityConfig = (env: Env): Config['identity'] => loadPart(identityKeys, identityFrom, env);
/** The Key Vault settings alone (`KEY_VAULT_*`). */
export const loadKeyVaultConfig = (env: Env): Config['keyVault'] => loadPart(keyVaultKeys, keyVaultFrom, env);

/** Parses the environment into a frozen Config, or throws one ConfigError naming every bad variable. */
export function loadConfig(env: Env): Config {
  const e = parseWith(schema, env);
  const problems: Problems = [];
  const serviceBus = serviceBusFrom(e, problems);
  if (e.SERVICEBUS_LOCK_RENEWAL_MAX_MS < e.SHUTDOWN_GRACE_MS) {
    // A message still draining must keep its lock, or another replica takes it while it is written.
    problems.push({
      variable: 'SERVICEBUS_LOCK_RENEWAL_MAX_MS',
      problem: `must be at least SHUTDOWN_GRACE_MS (${e.SHUTDOWN_GRACE_MS})`,
    });
  }
  if (e.RETRY_MAX_ATTEMPTS >= e.SERVICEBUS_MAX_DELIVERY_COUNT) {
    // Every defer counts as a delivery: a larger budget lets Service Bus dead-letter the message first.
    problems.push({
      variable: 'RETRY_MAX_ATTEMPTS',
      problem: `must be below SERVICEBUS_MAX_DELIVERY_COUNT (${e.SERVICEBUS_MAX_DELIVERY_COUNT})`,
    });
  }
  const keyVault = keyVaultFrom(e, problems);
  const sql = sqlFrom(e, problems);
  if (problems.length > 0) throw new ConfigError(problems);

  const config: Config = {
    identity: identityFrom(e),
    keyVault,
    serviceBus,
    sql,
    redis: { url: e.REDIS_URL ?? defaults.redisUrl, auth: e.REDIS_AUTH },
    retry: {
      immediateAttempts: e.RETRY_IMMEDIATE_ATTEMPTS,
      immediateDelayMs: e.RETRY_IMMEDIATE_DELAY_MS,
      baseDelayMs: e.RETRY_BASE_DELAY_MS,
      factor: e.RETRY_FACTOR,
      maxDelayMs: e.RETRY_MAX_DELAY_MS,
      maxAttempts: e.RETRY_MAX_ATTEMPTS,
      concurrency: e.RETRY_CONCURRENCY,
      reconcileMs: e.RETRY_RECONCILE_MS,
      maxDeliveryCount: e.SERVICEBUS_MAX_DELIVERY_COUNT,
    },
    batch: { maxSize: e.BATCH_MAX_SIZE, flushMs: e.BATCH_FLUSH_MS },
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    logLevel: e.LOG_LEVEL,
    http: { port: e.HTTP_PORT },
    telemetry: {
      otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
      applicationInsightsConnectionString: e.APPLICATIONINSIGHTS_CONNECTION_STRING,
    },
    inbox: { retentionDays: e.INBOX_RETENTION_DAYS },
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
