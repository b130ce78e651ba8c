import { RetryMode, ServiceBusClient } from '@azure/service-bus';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { orderHandlers } from './handlers/orders/handlers.ts';
import { toEventSchemas } from './handlers/registry.ts';
import { checkServiceBusAccess, checkSqlAccess } from './identity/access-check.ts';
import { createCredential, describeRequestedIdentity, scopes } from './identity/credential.ts';
import { describeIdentity, type IdentityDescription } from './identity/describe.ts';
import { acquireFirstToken } from './identity/first-token.ts';
import { createSecretClient } from './keyvault/client.ts';
import { createSecretStore } from './keyvault/secret-store.ts';
import { createCloser } from './lifecycle.ts';
import { createBatcher } from './pipeline/batcher.ts';
import { createInboxRetention } from './pipeline/inbox-retention.ts';
import { createSqlWriter } from './pipeline/sql-writer.ts';
import { type Consumer, createConsumer } from './servicebus/consumer.ts';
import type { SqlAuthentication } from './sql/connection.ts';
import { createSqlPool } from './sql/pool.ts';

export type WorkerState = 'starting' | 'running' | 'draining' | 'stopped';

export type Worker = {
  readonly state: WorkerState;
  readonly identity: IdentityDescription;
  readonly consumer: Consumer;
  /** Stops taking messages, drains in-flight ones within the grace period, closes every client. */
  close(): Promise<{ name: string; error: unknown }[]>;
};

/**
 * Builds the worker from its config: one credential for every client, then each client in the
 * order the pipeline needs them. What is acquired is released in reverse order, also when start
 * fails half-way.
 */
export async function startWorker(
  config: Config,
  deps: { logger: Logger; signal?: AbortSignal },
): Promise<Worker> {
  const { logger, signal } = deps;
  const closer = createCloser();
  let state: WorkerState = 'starting';
  try {
    const requested = { kind: config.identity.credential, clientId: config.identity.clientId };
    const credential = createCredential(requested);
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
      max: config.sql.poolMax,
      tokenMaxAgeMs: config.sql.tokenMaxAgeMs,
      log: logger.child({ component: 'sql' }),
    });
    closer.add('sql pool', () => pool.close());
    // Fail the start, not the first message, when the database is unreachable, the user is missing
    // or the schema is not there.
    await checkSqlAccess(pool, {
      server: config.sql.server,
      database: config.sql.database,
      identity: config.sql.auth.kind === 'token' ? identity : undefined,
    });
    logger.info({ server: config.sql.server, database: config.sql.database }, 'sql ready');

    const retention = createInboxRetention({
      db: pool,
      retentionDays: config.inbox.retentionDays,
      log: logger.child({ component: 'inbox-retention' }),
    });
    retention.start();
    closer.add('inbox retention', () => retention.close());

    const writer = createSqlWriter({
      db: pool,
      handlers: orderHandlers,
      log: logger.child({ component: 'writer' }),
    });
    const batcher = createBatcher({
      maxBatchSize: config.batch.maxSize,
      flushMs: config.batch.flushMs,
      write: (events) => writer.writeBatch(events),
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
    const consumer = createConsumer({
      client: serviceBus,
      entity: config.serviceBus.entity,
      schemas: toEventSchemas(orderHandlers),
      handle: (event) => batcher.submit(event),
      logger: logger.child({ component: 'consumer' }),
      concurrency: config.serviceBus.concurrency,
      lockRenewalMaxMs: config.serviceBus.lockRenewalMaxMs,
      drainGraceMs: config.shutdownGraceMs,
    });
    await consumer.start();
    // Closed first on shutdown: stop receiving and drain, while the batcher and pool still write.
    closer.add('consumer', () => consumer.close());

    state = 'running';
    logger.info(
      { entity: config.serviceBus.entity, concurrency: config.serviceBus.concurrency },
      'worker running',
    );
    return {
      get state() {
        return state;
      },
      identity,
      consumer,
      async close() {
        state = 'draining';
        const failures = await closer.closeAll();
        state = 'stopped';
        return failures;
      },
    };
  } catch (error: unknown) {
    await closer.closeAll();
    state = 'stopped';
    throw error;
  }
}
