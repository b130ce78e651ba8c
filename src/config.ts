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
  }>;
  redis: Readonly<{
    /** @defaultValue 'redis://127.0.0.1:6379' */
    url: string;
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
  REDIS_URL: `Redis for the retry queue (default ${defaults.redisUrl})`,
  BATCH_MAX_SIZE: `messages written in one SQL transaction (default ${defaults.batchMaxSize})`,
  BATCH_FLUSH_MS: `how long a batch waits to fill, in ms (default ${defaults.batchFlushMs})`,
  SHUTDOWN_GRACE_MS: `time in-flight messages get to finish on shutdown, in ms (default ${defaults.shutdownGraceMs})`,
  LOG_LEVEL: 'fatal, error, warn, info (default), debug or trace',
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
  REDIS_URL: optional.refine((v) => v === undefined || /^rediss?:\/\//.test(v), 'expected redis://HOST:PORT'),
  BATCH_MAX_SIZE: int(defaults.batchMaxSize, 1, 5_000),
  BATCH_FLUSH_MS: int(defaults.batchFlushMs, 0, 60_000),
  SHUTDOWN_GRACE_MS: int(defaults.shutdownGraceMs, 0),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace'], 'info'),
});

/** Parses the environment into a frozen Config, or throws one ConfigError naming every bad variable. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({
        variable: String(i.path[0] ?? '(environment)'),
        problem: i.message,
      })),
    );
  }
  const e = parsed.data;
  const problems: { variable: string; problem: string }[] = [];
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
  if (e.SERVICEBUS_LOCK_RENEWAL_MAX_MS < e.SHUTDOWN_GRACE_MS) {
    // A message still draining must keep its lock, or another replica takes it while it is written.
    problems.push({
      variable: 'SERVICEBUS_LOCK_RENEWAL_MAX_MS',
      problem: `must be at least SHUTDOWN_GRACE_MS (${e.SHUTDOWN_GRACE_MS})`,
    });
  }
  if (e.KEY_VAULT_SECRETS.length > 0 && !e.KEY_VAULT_URL) {
    problems.push({ variable: 'KEY_VAULT_URL', problem: 'is required when KEY_VAULT_SECRETS is set' });
  }
  let auth: SqlAuth = { kind: 'token' };
  if (e.SQL_AUTH === 'password') {
    // A password is a secret: allowed only for a local SQL Server container, never for Azure SQL.
    if (/\.database\.(windows\.net|azure\.com|chinacloudapi\.cn|usgovcloudapi\.net)$/i.test(e.SQL_SERVER)) {
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
  if (problems.length > 0 || entity === undefined) throw new ConfigError(problems);

  const config: Config = {
    identity: {
      credential: e.AZURE_CREDENTIAL,
      clientId: e.AZURE_CLIENT_ID,
      startupTimeoutMs: e.IDENTITY_STARTUP_TIMEOUT_MS,
    },
    keyVault: { url: e.KEY_VAULT_URL, secrets: e.KEY_VAULT_SECRETS, refreshMs: e.KEY_VAULT_REFRESH_MS },
    serviceBus: {
      fullyQualifiedNamespace: e.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE,
      entity,
      endpoint: e.SERVICEBUS_ENDPOINT,
      concurrency: e.SERVICEBUS_CONCURRENCY,
      lockRenewalMaxMs: e.SERVICEBUS_LOCK_RENEWAL_MAX_MS,
    },
    sql: {
      server: e.SQL_SERVER,
      port: e.SQL_PORT,
      database: e.SQL_DATABASE,
      auth,
      encrypt: e.SQL_ENCRYPT === 'true',
      poolMax: e.SQL_POOL_MAX,
      tokenMaxAgeMs: e.SQL_TOKEN_MAX_AGE_MS,
    },
    redis: { url: e.REDIS_URL ?? defaults.redisUrl },
    batch: { maxSize: e.BATCH_MAX_SIZE, flushMs: e.BATCH_FLUSH_MS },
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    logLevel: e.LOG_LEVEL,
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
