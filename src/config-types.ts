/** What the worker consumes: a queue, or a subscription of a topic. */
export type ServiceBusEntity = { queue: string } | { topic: string; subscription: string };

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
    /** How long start waits for the migrations to create the schema; 0 stops at once. @defaultValue 600000 */
    schemaWaitMs: number;
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
    /** Retry jobs the retry worker runs at once. @defaultValue 64 */
    concurrency: number;
    /** How often the reconciler looks for deferred messages without a job. @defaultValue 60000 */
    reconcileMs: number;
    /** The entity's MaxDeliveryCount, which the attempt budget must fit under. @defaultValue 10 */
    maxDeliveryCount: number;
  }>;
  /** The write path's breaker: a database that refuses everything pauses intake instead of failing messages. */
  breaker: Readonly<{
    /** Consecutive transient batch failures that open it; 0 never opens it. @defaultValue 5 */
    threshold: number;
    /** How long held messages wait for the database before they are deferred. @defaultValue 120000 */
    holdMaxMs: number;
    /** Bound of the first probe delay, doubled per failed probe. @defaultValue 1000 */
    probeMinMs: number;
    /** Cap of the probe delay bound. @defaultValue 30000 */
    probeMaxMs: number;
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
    /** Address they listen on. @defaultValue '0.0.0.0' (every interface, for the platform's probes) */
    host: string;
  }>;
  /** Trace and metric export; neither destination set = both off. */
  telemetry: Readonly<{
    /** OTLP base URL of a collector. @defaultValue undefined */
    otlpEndpoint: string | undefined;
    /** How spans and metrics travel to it. @defaultValue 'http/json' */
    otlpProtocol: 'http/json' | 'grpc';
    /** How often metrics are pushed. @defaultValue 60000 */
    metricExportIntervalMs: number;
    /** Application Insights connection string; ingestion authenticates with the managed identity. @defaultValue undefined */
    applicationInsightsConnectionString: string | undefined;
  }>;
  handlers: Readonly<{
    /** A module exporting `handlers`, instead of the shipped list (src/handlers/handlers.ts). @defaultValue undefined */
    module: string | undefined;
  }>;
  inbox: Readonly<{
    /**
     * Days a processed message id stays in dbo.Inbox; 0 keeps it forever. Must exceed the replay
     * horizon, or a late replay applies twice. @defaultValue 30
     */
    retentionDays: number;
  }>;
}>;
