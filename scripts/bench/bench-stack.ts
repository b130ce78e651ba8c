import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedIdentityCredential } from '@azure/identity';
import { ServiceBusClient } from '@azure/service-bus';
import { handlers } from '../../src/handlers/handlers.ts';
import { createHandlerRegistry } from '../../src/handlers/registry.ts';
import { migrate } from '../../src/sql/migrate.ts';
import { createSqlPool, type SqlPool } from '../../src/sql/pool.ts';
import { ensureLocalRedis } from '../../test/stand-ins/redis.ts';
import { freePort } from '../../test/stand-ins/redis-server.ts';
import { type LocalStack, startLocalStack } from '../../test/stand-ins/stack.ts';
import { trustCertificateAuthority } from '../../test/stand-ins/tls-trust.ts';

/** The local stack in this process, migrated, with a publisher client and an operator SQL pool. */
export type BenchStack = {
  stack: LocalStack;
  publisher: ServiceBusClient;
  /** Operator connections: lag queries and the SQL-only comparison. */
  pool: SqlPool;
  /** The worker's environment: the stack's, with the bench's own Redis. */
  env: Record<string, string>;
  /** A new queue the worker may receive from and the publisher may send to. */
  newQueue(name: string): string;
  close(): Promise<void>;
};

export async function startBenchStack(): Promise<BenchStack> {
  // A Redis of its own: the retry queue's name is fixed, so a worker on the shared one could take
  // another local stack's retry jobs, and the outage case fills it with thousands of them.
  const redis = await ensureLocalRedis({ port: await freePort(), preferDefault: false });
  // Its own directory: a bench must not take the place of a `npm run stack` others may use.
  const dir = await mkdtemp(join(tmpdir(), 'keyless-bench-'));
  const stack = await startLocalStack({ dir, redis: false });
  // This process acts as the operator (lag queries) and the publisher, through the stack's endpoint.
  process.env.IDENTITY_ENDPOINT = stack.file.identityEndpoint;
  process.env.IDENTITY_HEADER = stack.file.identityHeader;
  process.env.AZURE_CLIENT_ID = stack.file.identities.operator.clientId;
  trustCertificateAuthority(readFileSync(stack.file.caCertPath, 'utf8'));
  const namespaceId = stack.identity.resourceId('Microsoft.ServiceBus/namespaces', 'keyless-local');
  stack.identity.assignRole(
    stack.file.identities.publisher.objectId,
    'Azure Service Bus Data Sender',
    namespaceId,
  );
  const pool = createSqlPool({
    server: stack.file.sql.server,
    port: stack.file.sql.port,
    database: stack.file.sql.database,
    authentication: {
      type: 'token-credential',
      options: {
        credential: new ManagedIdentityCredential({ clientId: stack.file.identities.operator.clientId }),
      },
    },
    max: 4,
  });
  await migrate(pool, { dirs: createHandlerRegistry(handlers).migrationDirs });
  const publisher = new ServiceBusClient(
    stack.file.serviceBus.fullyQualifiedNamespace,
    new ManagedIdentityCredential({ clientId: stack.file.identities.publisher.clientId }),
  );
  return {
    stack,
    publisher,
    pool,
    env: { ...stack.env('worker'), REDIS_URL: redis.url },
    newQueue(name) {
      stack.serviceBus.createQueue(name, { lockDurationMs: 30_000, maxDeliveryCount: 10 });
      return name;
    },
    async close() {
      await publisher.close().catch(() => undefined);
      await pool.close().catch(() => undefined);
      await stack.close();
      await redis.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
