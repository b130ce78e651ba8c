import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceBusClient } from '@azure/service-bus';
import { createCredential } from '../../src/identity/credential.ts';
import { migrate } from '../../src/sql/migrate.ts';
import { createSqlPool, type SqlPool } from '../../src/sql/pool.ts';
import { testMigrationDirs } from '../fixtures/migrations.ts';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../stand-ins/stack.ts';
import { trustCertificateAuthority } from '../stand-ins/tls-trust.ts';

export type SystemStack = {
  stack: LocalStack;
  /** A pool as the operator identity, for checks (read) and migrations (DDL). */
  sql: SqlPool;
  /** A Service Bus client as the publisher identity. */
  publisher(): ServiceBusClient;
  close(): Promise<void>;
};

/**
 * What `npm start` sets up before the worker runs: the stand-ins in this process, writing their
 * files to a temporary folder, and the migrations applied as the operator identity. This process
 * acts as the stack's identities, as `npm run publish` and `npm run sql` do.
 */
export async function startSystemStack(
  options: Omit<LocalStackOptions, 'dir'> & { migrate?: boolean },
): Promise<SystemStack> {
  const dir = await mkdtemp(join(tmpdir(), 'keyless-system-'));
  const stack = await startLocalStack({ redis: false, ...options, dir });
  trustCertificateAuthority(readFileSync(stack.file.caCertPath, 'utf8'));
  process.env.IDENTITY_ENDPOINT = stack.file.identityEndpoint;
  process.env.IDENTITY_HEADER = stack.file.identityHeader;
  const { server, port, database } = stack.file.sql;
  const as = (who: 'operator' | 'publisher') =>
    createCredential({ clientId: stack.file.identities[who].clientId });
  const sql = createSqlPool({
    server,
    port,
    database,
    authentication: { type: 'token-credential', options: { credential: as('operator') } },
    max: 2,
  });
  if (options.migrate !== false) await migrate(sql, { dirs: testMigrationDirs });
  return {
    stack,
    sql,
    publisher: () => new ServiceBusClient(stack.file.serviceBus.fullyQualifiedNamespace, as('publisher')),
    async close() {
      await sql.close();
      await stack.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
