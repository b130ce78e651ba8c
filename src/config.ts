// Environment → typed, frozen Config: the variables and their parsers are in config-variables.ts,
// the Config type in config-types.ts; this module applies them, whole or one part for a script.
import type { z } from 'zod';
import type { Config, ServiceBusEntity, SqlAuth } from './config-types.ts';
import { ConfigError, schema } from './config-variables.ts';
import { defaults } from './defaults.ts';

export type { Config, CredentialKind, SqlAuth } from './config-types.ts';
export { ConfigError, type VariableName, variables } from './config-variables.ts';

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
const redisKeys = ['REDIS_'] as const;

const redisFrom = (e: Part<'REDIS_'>): Config['redis'] => ({
  url: e.REDIS_URL ?? defaults.redisUrl,
  auth: e.REDIS_AUTH,
});

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
    schemaWaitMs: e.SQL_SCHEMA_WAIT_MS,
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

/** Which handler list to load (`HANDLERS_MODULE`): for scripts that read the same list as the worker. */
export const loadHandlersConfig = (env: Env): Config['handlers'] =>
  loadPart(['HANDLERS_'] as const, (e) => ({ module: e.HANDLERS_MODULE }), env);

/** The retry tier's Redis (`REDIS_URL`, `REDIS_AUTH`). */
export const loadRedisConfig = (env: Env): Config['redis'] => loadPart(redisKeys, redisFrom, env);

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
  if (e.BREAKER_HOLD_MAX_MS >= e.SERVICEBUS_LOCK_RENEWAL_MAX_MS) {
    // A held message keeps its lock only while it is renewed: past that, Service Bus gives it to another replica.
    problems.push({
      variable: 'BREAKER_HOLD_MAX_MS',
      problem: `must be below SERVICEBUS_LOCK_RENEWAL_MAX_MS (${e.SERVICEBUS_LOCK_RENEWAL_MAX_MS})`,
    });
  }
  if (e.BREAKER_PROBE_MIN_MS > e.BREAKER_PROBE_MAX_MS) {
    problems.push({
      variable: 'BREAKER_PROBE_MIN_MS',
      problem: `must be at most BREAKER_PROBE_MAX_MS (${e.BREAKER_PROBE_MAX_MS})`,
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
    redis: redisFrom(e),
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
    breaker: {
      threshold: e.BREAKER_THRESHOLD,
      holdMaxMs: e.BREAKER_HOLD_MAX_MS,
      probeMinMs: e.BREAKER_PROBE_MIN_MS,
      probeMaxMs: e.BREAKER_PROBE_MAX_MS,
    },
    batch: { maxSize: e.BATCH_MAX_SIZE, flushMs: e.BATCH_FLUSH_MS },
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    logLevel: e.LOG_LEVEL,
    http: { port: e.HTTP_PORT, host: e.HTTP_HOST },
    telemetry: {
      otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
      otlpProtocol: e.OTEL_EXPORTER_OTLP_PROTOCOL,
      metricExportIntervalMs: e.OTEL_METRIC_EXPORT_INTERVAL,
      applicationInsightsConnectionString: e.APPLICATIONINSIGHTS_CONNECTION_STRING,
    },
    handlers: { module: e.HANDLERS_MODULE },
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
