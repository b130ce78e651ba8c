import { randomBytes } from 'node:crypto';
import { ManagedIdentityCredential } from '@azure/identity';
import { ServiceBusClient } from '@azure/service-bus';
import { inject } from 'vitest';
import { migrate } from '../../src/sql/migrate.ts';
import { createSqlPool, type SqlPool, type SqlPoolOptions } from '../../src/sql/pool.ts';
import { testMigrationDirs } from '../fixtures/migrations.ts';
import { startConsumerStandIns } from '../integration/consumer-stand-ins.ts';
import type { IdentityStandIn, UserAssignedIdentity } from '../stand-ins/identity.ts';
import { createPgliteEngine } from '../stand-ins/sql/engine/index.ts';
import { type SqlStandIn, startSqlStandIn } from '../stand-ins/sql/index.ts';
import { startLocalAzure } from './azure-stand-ins.ts';

/**
 * What the integration tests that take a target run against: the stand-ins (default) or real
 * services in containers (`TEST_TARGET=containers`, started by test/helpers/containers.ts). The
 * tests are the same; only where the connections go differs. Identity paths (Entra tokens, roles)
 * and injected faults exist on the stand-ins only: a test that needs them runs there alone.
 */
export type TargetName = 'stand-ins' | 'containers';

export const targetName = (): TargetName => (inject('containers') ? 'containers' : 'stand-ins');

export type SqlWho = 'worker' | 'operator';

export type SqlTarget = {
  name: TargetName;
  /** A pool as `who` (worker: read and write; operator: also DDL), closed by `closePools`. */
  pool(who: SqlWho, extra?: Partial<SqlPoolOptions>): SqlPool;
  closePools(): Promise<void>;
  /** The stand-ins' own handles (fault API, identities); undefined on containers. */
  standIns?: { sql: SqlStandIn; identity: IdentityStandIn; users: Record<SqlWho, UserAssignedIdentity> };
  close(): Promise<void>;
};

const roleSql = (user: string, who: SqlWho) =>
  (who === 'worker' ? ['db_datareader', 'db_datawriter'] : ['db_owner'])
    .map((role) => `ALTER ROLE ${role} ADD MEMBER [${user}];`)
    .join(' ');

/** A migrated database on the target, with a worker and an operator principal. */
export async function startSqlTarget(): Promise<SqlTarget> {
  const pools: SqlPool[] = [];
  const track = (p: SqlPool) => {
    pools.push(p);
    return p;
  };
  const closePools = async () => {
    await Promise.all(pools.splice(0).map((p) => p.close()));
  };
  const containers = inject('containers');
  if (!containers) {
    // Before any getToken: the process's identity source is fixed at the first one.
    const { identity, ca } = await startLocalAzure();
    const users = {
      worker: identity.addIdentity('keyless-worker'),
      operator: identity.addIdentity('keyless-operator'),
    };
    const engine = await createPgliteEngine();
    const admin = await engine.openSession('keyless', 'dbo');
    for (const who of ['worker', 'operator'] as const) {
      await admin.execute(
        `CREATE USER [${users[who].name}] FROM EXTERNAL PROVIDER; ${roleSql(users[who].name, who)}`,
      );
    }
    await admin.close();
    const sql = await startSqlStandIn({ authority: identity, ca, engine });
    const pool = (who: SqlWho, extra: Partial<SqlPoolOptions> = {}) =>
      track(
        createSqlPool({
          server: sql.server,
          port: sql.port,
          database: 'keyless',
          authentication: {
            type: 'token-credential',
            options: { credential: new ManagedIdentityCredential({ clientId: users[who].clientId }) },
          },
          ...extra,
        }),
      );
    await migrate(pool('operator'), { dirs: testMigrationDirs });
    await closePools();
    return {
      name: 'stand-ins',
      pool,
      closePools,
      standIns: { sql, identity, users },
      async close() {
        await closePools();
        await sql.close();
        await engine.close();
        await identity.close();
      },
    };
  }

  // SQL Server 2022 with SQL logins (it has no Entra ID here): a database and logins per test file.
  const { host, port, user, password } = containers.sql;
  const suffix = randomBytes(4).toString('hex');
  const database = `keyless_${suffix}`;
  const logins = Object.fromEntries(
    (['worker', 'operator'] as const).map((who) => [
      who,
      { name: `kw_${who}_${suffix}`, password: `Kw1!${randomBytes(12).toString('base64url')}` },
    ]),
  ) as Record<SqlWho, { name: string; password: string }>;
  const connect = (
    db: string,
    login: { name: string; password: string },
    extra: Partial<SqlPoolOptions> = {},
  ) =>
    track(
      createSqlPool({
        server: host,
        port,
        database: db,
        authentication: { type: 'default', options: { userName: login.name, password: login.password } },
        // The container's certificate is its own, self-signed: encrypted, not verified.
        trustServerCertificate: true,
        ...extra,
      }),
    );
  const sa = connect('master', { name: user, password });
  await sa.query(`CREATE DATABASE [${database}]`);
  // DDL takes no parameters; the password is made here, of base64url characters only.
  for (const who of ['worker', 'operator'] as const) {
    const l = logins[who];
    await sa.query(`CREATE LOGIN [${l.name}] WITH PASSWORD = N'${l.password}', CHECK_POLICY = OFF`);
  }
  const owner = connect(database, { name: user, password });
  for (const who of ['worker', 'operator'] as const) {
    await owner.query(
      `CREATE USER [${logins[who].name}] FOR LOGIN [${logins[who].name}]; ${roleSql(logins[who].name, who)}`,
    );
  }
  const pool = (who: SqlWho, extra: Partial<SqlPoolOptions> = {}) => connect(database, logins[who], extra);
  await migrate(pool('operator'), { dirs: testMigrationDirs });
  await closePools();
  return {
    name: 'containers',
    pool,
    closePools,
    async close() {
      await closePools();
      const cleanup = connect('master', { name: user, password });
      await cleanup.query(
        `ALTER DATABASE [${database}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE [${database}]`,
      );
      for (const who of ['worker', 'operator'] as const)
        await cleanup.query(`DROP LOGIN [${logins[who].name}]`);
      await closePools();
    },
  };
}

/** A Service Bus client factory and queues on the target's broker. */
export type ServiceBusTarget = {
  name: TargetName;
  /** A client that may send and receive: a publisher-and-worker identity, or the emulator's connection string. */
  client(): ServiceBusClient;
  /** An empty queue for one test. */
  queue(): string;
  /** Closes the clients a test opened. */
  cleanup(): Promise<void>;
  close(): Promise<void>;
};

/**
 * On the stand-ins: identity-authenticated clients and a fresh queue per call. On the emulator: its
 * connection string (it has no Entra ID) and one of the queues it was configured with.
 */
export async function startServiceBusTarget(): Promise<ServiceBusTarget> {
  const clients: ServiceBusClient[] = [];
  const closeClients = async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  };
  const containers = inject('containers');
  if (containers) {
    const free = [...containers.serviceBus.queues];
    return {
      name: 'containers',
      client() {
        const c = new ServiceBusClient(containers.serviceBus.connectionString);
        clients.push(c);
        return c;
      },
      queue() {
        const q = free.shift();
        if (!q)
          throw new Error('every queue declared for the emulator is taken: declare more in containers.ts');
        return q;
      },
      cleanup: closeClients,
      close: closeClients,
    };
  }
  const env = await startConsumerStandIns();
  env.identity.assignRole(
    env.publisher.objectId,
    'Azure Service Bus Data Receiver',
    env.identity.resourceId('Microsoft.ServiceBus/namespaces', 'keyless-local'),
  );
  return {
    name: 'stand-ins',
    client: () => env.client(env.publisher),
    queue: () => env.queue(),
    cleanup: () => env.cleanup(),
    async close() {
      await env.cleanup();
      await env.close();
    },
  };
}

/**
 * The Redis the target's tests use: the Redis container, or the shared local one (never flush or
 * reconfigure it; a test that must, starts its own). Key prefixes keep tests apart on either.
 */
export const redisUrl = (): string => inject('containers')?.redis.url ?? 'redis://127.0.0.1:6379';
