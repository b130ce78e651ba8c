import { RetryMode, ServiceBusClient } from '@azure/service-bus';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { orderHandlers } from './handlers/orders/handlers.ts';
import { toEventSchemas } from './handlers/registry.ts';
import { type Metrics, metricNames } from './http/metrics.ts';
import { consumerMetrics, retryMetrics, tokenMetrics, writerMetrics } from './http/pipeline-metrics.ts';
import type { Readiness } from './http/readiness.ts';
import { createCredential, describeRequestedIdentity, scopes } from './identity/credential.ts';
import { describeIdentity, type IdentityDescription } from './identity/describe.ts';
import { acquireFirstToken } from './identity/first-token.ts';
import { observeCredential } from './identity/observed-credential.ts';
import { createSecretClient } from './keyvault/client.ts';
import { createSecretStore } from './keyvault/secret-store.ts';
import { createCloser, createStateMachine } from './lifecycle.ts';
import { createBatcher } from './pipeline/batcher.ts';
import type { CloudEvent } from './pipeline/cloud-event.ts';
import { createInboxRetention } from './pipeline/inbox-retention.ts';
import { createSqlWriter } from './pipeline/sql-writer.ts';
import { RetryError } from './retry/errors.ts';
import { startRetryTier } from './retry/retry-tier.ts';
import { checkServiceBusAccess } from './servicebus/access-check.ts';
import { type Consumer, createConsumer } from './servicebus/consumer.ts';
import { type ConsumerObserver, combineObservers } from './servicebus/consumer-options.ts';
import { entityPath } from './servicebus/entity.ts';
import { checkSqlAccess } from './sql/access-check.ts';
import type { SqlAuthentication } from './sql/connection.ts';
import { createSqlPool } from './sql/pool.ts';
import { createMessageTracing } from './telemetry/message-spans.ts';
import { startMetricExport } from './telemetry/metric-export.ts';
import { startTracing } from './telemetry/tracing.ts';

export type WorkerState = 'starting' | 'running' | 'draining' | 'stopped';

export type Worker = {
  readonly state: WorkerState;
  readonly identity: IdentityDescription;
  readonly consumer: Consumer;
  /** Stops taking messages, drains in-flight ones within the grace period, closes every client. */
  close(): Promise<{ name: string; error: unknown }[]>;
};

export type WorkerDeps = {
  logger: Logger;
  signal?: AbortSignal;
  /** Where components register their instruments. @defaultValue none (no metrics) */
  metrics?: Metrics;
  /** Where components add their readiness checks as they come up. @defaultValue none */
  readiness?: Readiness;
  /** Span exporters besides the configured ones (tests: in memory). @defaultValue [] */
  spanExporters?: readonly SpanExporter[];
};

/**
 * Builds the worker from its config: one credential for every client, then each client in the
 * order the pipeline needs them. What is acquired is released in reverse order, also when start
 * fails half-way.
 */
export async function startWorker(config: Config, deps: WorkerDeps): Promise<Worker> {
  const { logger, signal, metrics, readiness } = deps;
  const closer = createCloser();
  const state = createStateMachine<WorkerState>({
    component: 'worker',
    initial: 'starting',
    moves: { starting: ['running', 'stopped'], running: ['draining'], draining: ['stopped'], stopped: [] },
    logger,
  });
  // Not ready until every start step is done; the body says which step it is still in.
  readiness?.add('worker', () => {
    if (state.current !== 'running') throw new Error(state.current);
  });
  try {
    const requested = { kind: config.identity.credential, clientId: config.identity.clientId };
    const credential = observeCredential(createCredential(requested), metrics ? tokenMetrics(metrics) : {});
    const tracing = startTracing({ ...config.telemetry, credential, exporters: deps.spanExporters ?? [] });
    // Added first, so closed last: the spans of the drain are exported too.
    closer.add('tracing', () => tracing.close());
    // The same instruments as /metrics, pushed; closed next to last, so the drain's figures go out too.
    const metricExport = startMetricExport({ ...config.telemetry, credential, registry: metrics?.registry });
    closer.add('metric export', () => metricExport.close());
    if (tracing.enabled) {
      logger.info(
        {
          otlp: config.telemetry.otlpEndpoint ?? false,
          azureMonitor: config.telemetry.applicationInsightsConnectionString !== undefined,
        },
        'tracing on',
      );
    }
    const entity = config.serviceBus.entity;
    const messageTracing = tracing.enabled
      ? createMessageTracing(tracing.tracer, entityPath(entity))
      : undefined;
    const firstToken = await acquireFirstToken(credential, {
      scope: scopes.serviceBus,
      identity: describeRequestedIdentity(requested),
      timeoutMs: config.identity.startupTimeoutMs,
      signal,
      onRetry: (attempt, error, delayMs) =>
        logger.info(
          { attempt, delayMs: Math.round(delayMs), reason: (error as Error).message },
          'identity endpoint not ready; retrying',
        ),
    });
    const identity = describeIdentity(firstToken.token);
    logger.info(
      {
        identity: {
          kind: identity.kind,
          clientId: identity.clientId,
          objectId: identity.objectId,
          resourceId: identity.resourceId,
          tenantId: identity.tenantId,
        },
      },
      'identity ready',
    );
    readiness?.add('identity', async () => {
      // Answered from the identity library's cache while the token is fresh; asks the endpoint otherwise.
      const token = await credential.getToken(scopes.serviceBus);
      if (!token || token.expiresOnTimestamp <= Date.now()) throw new Error('no unexpired Service Bus token');
    });

    if (config.keyVault.url && config.keyVault.secrets.length > 0) {
      const secrets = createSecretStore({
        client: createSecretClient(config.keyVault.url, credential),
        vaultUrl: config.keyVault.url,
        names: config.keyVault.secrets,
        refreshMs: config.keyVault.refreshMs,
        identity: () => identity,
        logger: logger.child({ component: 'keyvault' }),
      });
      await secrets.start();
      closer.add('key vault', () => secrets.close());
    }

    const authentication: SqlAuthentication =
      config.sql.auth.kind === 'password'
        ? { type: 'default', options: { userName: config.sql.auth.user, password: config.sql.auth.password } }
        : { type: 'token-credential', options: { credential } };
    const pool = createSqlPool({
      server: config.sql.server,
      port: config.sql.port,
      database: config.sql.database,
      authentication,
      encrypt: config.sql.encrypt,
      trustServerCertificate: config.sql.trustServerCertificate,
      max: config.sql.poolMax,
      tokenMaxAgeMs: config.sql.tokenMaxAgeMs,
      logger: logger.child({ component: 'sql' }),
    });
    closer.add('sql pool', () => pool.close());
    // Fail the start, not the first message, when the database is unreachable or the user is
    // missing; wait (not ready) for a schema the migration job has not created yet.
    await checkSqlAccess(pool, {
      server: config.sql.server,
      database: config.sql.database,
      identity: config.sql.auth.kind === 'token' ? identity : undefined,
      schemaWaitMs: config.sql.schemaWaitMs,
      logger: logger.child({ component: 'sql' }),
      signal,
    });
    logger.info({ server: config.sql.server, database: config.sql.database }, 'sql ready');
    readiness?.add('sql', async () => {
      const s = pool.stats();
      // Every connection lent out to writes: the pool is working; waiting for one would only report load.
      if (s.idle === 0 && s.open >= config.sql.poolMax) return;
      await pool.query('SELECT 1 AS ok');
    });

    const retention = createInboxRetention({
      db: pool,
      retentionDays: config.inbox.retentionDays,
      logger: logger.child({ component: 'inbox-retention' }),
    });
    retention.start();
    closer.add('inbox retention', () => retention.close());

    const writer = createSqlWriter({
      db: pool,
      handlers: orderHandlers,
      logger: logger.child({ component: 'writer' }),
      ...(metrics ? { observer: writerMetrics(metrics) } : {}),
    });
    const batcher = createBatcher({
      maxBatchSize: config.batch.maxSize,
      flushMs: config.batch.flushMs,
      write: (events) =>
        messageTracing
          ? messageTracing.traceBatch(events, () => writer.writeBatch(events))
          : writer.writeBatch(events),
    });
    closer.add('batcher', () => batcher.close());

    const serviceBus = new ServiceBusClient(config.serviceBus.fullyQualifiedNamespace, credential, {
      ...(config.serviceBus.endpoint ? { customEndpointAddress: config.serviceBus.endpoint } : {}),
      // The SDK's default waits a fixed 30 s between attempts, so a missing role took 90 s to show.
      retryOptions: {
        mode: RetryMode.Exponential,
        maxRetries: 3,
        retryDelayInMs: 1_000,
        maxRetryDelayInMs: 30_000,
      },
    });
    closer.add('service bus client', () => serviceBus.close());
    await checkServiceBusAccess(serviceBus, config.serviceBus.entity, {
      namespace: config.serviceBus.fullyQualifiedNamespace,
      identity,
    });
    const schemas = toEventSchemas(orderHandlers);
    const write = (event: CloudEvent) => batcher.submit(event);
    // After the Service Bus client (it settles deferred messages), before the consumer (whose
    // transient failures become retry jobs): closed after the consumer drained, before the client.
    const retry = await startRetryTier({
      redis: {
        url: config.redis.url,
        auth:
          config.redis.auth === 'entra'
            ? { kind: 'entra', credential, objectId: requireObjectId(identity) }
            : { kind: 'none' },
      },
      retry: config.retry,
      entity: config.serviceBus.entity,
      client: serviceBus,
      schemas,
      write,
      logger,
      drainGraceMs: config.shutdownGraceMs,
      ...(metrics ? { observer: retryMetrics(metrics) } : {}),
      ...(messageTracing ? { tracing: messageTracing } : {}),
    });
    metrics?.gauge(metricNames.retryQueueDepth, 'Retry jobs waiting or delayed in the BullMQ queue.', {
      collect: async (g) =>
        g.set(await retry.queue.queue.getJobCountByTypes('waiting', 'delayed', 'prioritized')),
    });
    // Transient failures need Redis to become retries: without it they are abandoned and spend budget.
    readiness?.add('redis', () => retry.ping());
    closer.add('retry tier', async () => {
      const failures = await retry.close();
      if (failures.length > 0)
        throw new AggregateError(
          failures.map((f) => f.error),
          'closing the retry tier',
        );
    });
    const consumer = createConsumer({
      client: serviceBus,
      entity: config.serviceBus.entity,
      schemas,
      handle: (event, ctx) => retry.policy.run(() => write(event), ctx.message, ctx.logger, ctx.signal),
      logger: logger.child({ component: 'consumer' }),
      concurrency: config.serviceBus.concurrency,
      lockRenewalMaxMs: config.serviceBus.lockRenewalMaxMs,
      drainGraceMs: config.shutdownGraceMs,
      observer: combineObservers(
        ...([metrics && consumerMetrics(metrics), messageTracing?.observer].filter(
          Boolean,
        ) as ConsumerObserver[]),
      ),
    });
    metrics?.gauge(metricNames.inFlight, 'Messages received and not yet settled.', {
      collect: (g) => g.set(consumer.stats().inFlight),
    });
    await consumer.start();
    readiness?.add('servicebus', () => {
      if (!consumer.stats().receiverOpen) throw new Error('the receive link is not open');
    });
    // Closed first on shutdown: stop receiving and drain, while the batcher and pool still write.
    closer.add('consumer', () => consumer.close());

    state.transition('running', {
      entity: config.serviceBus.entity,
      concurrency: config.serviceBus.concurrency,
    });
    return {
      get state() {
        return state.current;
      },
      identity,
      consumer,
      async close() {
        if (state.current === 'running') state.transition('draining');
        readiness?.setDraining();
        const failures = await closer.closeAll();
        if (state.current === 'draining') state.transition('stopped');
        return failures;
      },
    };
  } catch (error: unknown) {
    await closer.closeAll();
    state.transition('stopped');
    throw error;
  }
}

/** Entra AUTH to Redis names the identity by its object id, which only its token tells. */
function requireObjectId(identity: IdentityDescription): string {
  if (!identity.objectId) {
    throw new RetryError(
      'RedisAuth',
      'REDIS_AUTH=entra needs the identity object id (oid claim), and the token has none',
    );
  }
  return identity.objectId;
}
