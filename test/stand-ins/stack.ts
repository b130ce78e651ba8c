import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createLocalCa } from './ca.ts';
import { type FaultControlAddress, startFaultControl } from './fault-control.ts';
import { type IdentityStandIn, startIdentityStandIn } from './identity.ts';
import { type KeyVaultStandIn, startKeyVaultStandIn } from './keyvault.ts';
import { ensureLocalRedis, type LocalRedis, RedisUnavailableError } from './redis.ts';
import { startEntraRedis } from './redis-entra.ts';
import { type ServiceBusStandIn, startServiceBusStandIn } from './servicebus/index.ts';
import { createPgliteEngine } from './sql/engine/index.ts';
import type { SqlEngine } from './sql/engine-api.ts';
import { type SqlStandIn, startSqlStandIn } from './sql/index.ts';

/** The identities of a local stack, as `.local/stack.json` lists them. */
export type StackIdentity = { name: string; clientId: string; objectId: string; roles: string[] };

/** `.local/stack.json`: how other processes find a running stack. */
export type StackFile = {
  pid: number;
  caCertPath: string;
  identityEndpoint: string;
  identityHeader: string;
  tenantId: string;
  identities: Record<'worker' | 'publisher' | 'operator' | 'scaler', StackIdentity>;
  serviceBus: { fullyQualifiedNamespace: string; endpoint: string; queue: string };
  keyVault: { url: string; secrets: string[] };
  sql: { server: string; port: number; database: string };
  redisUrl?: string;
  /** Where `npm run fault` asks the stack to misbehave (loopback, bearer token). */
  control: FaultControlAddress;
};

export type LocalStack = {
  file: StackFile;
  identity: IdentityStandIn;
  keyVault: KeyVaultStandIn;
  serviceBus: ServiceBusStandIn;
  sql: SqlStandIn;
  sqlEngine: SqlEngine;
  redis: LocalRedis | undefined;
  /** Environment that points a process at the stack as `who` (`stack.env` holds the worker's). */
  env(who?: keyof StackFile['identities']): Record<string, string>;
  close(): Promise<void>;
};

export type LocalStackOptions = {
  /** Where stack.json, stack.env and ca.pem go; undefined writes nothing. @defaultValue undefined */
  dir?: string;
  /** @defaultValue 'orders' */
  queue?: string;
  /** Lock duration of the queue: how soon a crashed worker's messages come back. @defaultValue 30000 */
  lockDurationMs?: number;
  /** Start (or reuse) a Redis. @defaultValue true */
  redis?: boolean;
  /**
   * `entra`: a redis-server of the stack's own that accepts exactly the valid Entra tokens of the
   * identities (REDIS_AUTH=entra), instead of the shared one. @defaultValue 'none'
   */
  redisAuth?: 'none' | 'entra';
  /** Port for a Redis started here when none answers on 6379. @defaultValue 6390 */
  redisPort?: number;
  /** Told what the stack could not provide (no Redis). @defaultValue console.warn */
  warn?: (message: string) => void;
};

const roles = {
  receiver: 'Azure Service Bus Data Receiver',
  sender: 'Azure Service Bus Data Sender',
  owner: 'Azure Service Bus Data Owner',
  secretsUser: 'Key Vault Secrets User',
  secretsOfficer: 'Key Vault Secrets Officer',
} as const;

/**
 * Every stand-in in one process, with the three identities of a real deployment and the least
 * privilege each one has there: the worker receives and reads secrets, the publisher sends, the
 * operator owns (replays dead letters, rotates secrets, migrates).
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const queue = options.queue ?? 'orders';
  const ca = createLocalCa();
  const identity = await startIdentityStandIn({ tokenLifetimeSec: 3600 });
  const namespaceId = identity.resourceId('Microsoft.ServiceBus/namespaces', 'keyless-local');
  const vaultId = identity.resourceId('Microsoft.KeyVault/vaults', 'keyless-local');
  const ids = {
    worker: identity.addIdentity('keyless-worker'),
    publisher: identity.addIdentity('keyless-publisher'),
    operator: identity.addIdentity('keyless-operator'),
    // KEDA's own identity: it reads the queue's message count and nothing else.
    scaler: identity.addIdentity('keyless-scaler'),
  };
  const grant = (who: keyof typeof ids, role: string, scope: string) =>
    identity.assignRole(ids[who].objectId, role, scope);
  grant('worker', roles.receiver, namespaceId);
  grant('worker', roles.secretsUser, vaultId);
  grant('publisher', roles.sender, `${namespaceId}/queues/${queue}`);
  grant('operator', roles.owner, namespaceId);
  grant('operator', roles.secretsOfficer, vaultId);
  grant('scaler', roles.owner, `${namespaceId}/queues/${queue}`);

  const keyVault = await startKeyVaultStandIn({ authority: identity, ca, resourceId: vaultId });
  keyVault.setSecret('sample-secret', 'local-value-1', { contentType: 'text/plain' });
  const serviceBus = await startServiceBusStandIn({
    authority: identity,
    ca,
    namespaceResourceId: namespaceId,
  });
  serviceBus.createQueue(queue, {
    lockDurationMs: options.lockDurationMs ?? 30_000,
    maxDeliveryCount: 10,
    duplicateDetectionWindowMs: 600_000,
  });

  // The database as an administrator provisions it in Azure: contained users for the identities,
  // with the worker limited to reading and writing and the operator allowed DDL for migrations.
  const database = 'keyless';
  const sqlEngine = await createPgliteEngine({ database });
  const admin = await sqlEngine.openSession(database, 'dbo');
  for (const [who, dbRoles] of [
    ['worker', ['db_datareader', 'db_datawriter']],
    ['operator', ['db_datareader', 'db_datawriter', 'db_ddladmin']],
  ] as const) {
    await admin.execute(`CREATE USER [${ids[who].name}] FROM EXTERNAL PROVIDER`);
    for (const role of dbRoles) await admin.execute(`ALTER ROLE ${role} ADD MEMBER [${ids[who].name}]`);
  }
  await admin.close();
  const sql = await startSqlStandIn({ authority: identity, ca, engine: sqlEngine });

  // Without Redis the worker still runs (transient failures are abandoned, not retried with delays):
  // a machine without it is told how to get it.
  let redis: LocalRedis | undefined;
  if (options.redis !== false) {
    try {
      if (options.redisAuth === 'entra') {
        // The worker runs the retry tier, the operator `reprocess retries`: both have an access policy.
        const entra = await startEntraRedis({
          authority: identity,
          accessPolicyAssignments: [ids.worker.objectId, ids.operator.objectId],
        });
        redis = { url: entra.url, startedHere: true, close: () => entra.close() };
      } else redis = await ensureLocalRedis({ port: options.redisPort ?? 6390 });
    } catch (error: unknown) {
      if (!(error instanceof RedisUnavailableError)) throw error;
      (options.warn ?? console.warn)(error.message);
    }
  }

  const control = await startFaultControl({ sql: sql.faults, serviceBus, identity });

  const dir = options.dir ? resolve(options.dir) : undefined;
  const caCertPath = dir ? join(dir, 'ca.pem') : '';
  const describe = (who: keyof typeof ids): StackIdentity => ({
    name: ids[who].name,
    clientId: ids[who].clientId,
    objectId: ids[who].objectId,
    roles: identity
      .assignments()
      .filter((a) => a.principalId === ids[who].objectId)
      .map((a) => a.role),
  });
  const file: StackFile = {
    pid: process.pid,
    caCertPath,
    identityEndpoint: identity.endpoint,
    identityHeader: identity.header,
    tenantId: identity.tenantId,
    identities: {
      worker: describe('worker'),
      publisher: describe('publisher'),
      operator: describe('operator'),
      scaler: describe('scaler'),
    },
    serviceBus: {
      fullyQualifiedNamespace: serviceBus.fullyQualifiedNamespace,
      endpoint: serviceBus.endpoint,
      queue,
    },
    keyVault: { url: keyVault.url, secrets: ['sample-secret'] },
    sql: { server: sql.server, port: sql.port, database },
    ...(redis ? { redisUrl: redis.url } : {}),
    control: { url: control.url, token: control.token },
  };

  const env = (who: keyof StackFile['identities'] = 'worker'): Record<string, string> => ({
    IDENTITY_ENDPOINT: identity.endpoint,
    IDENTITY_HEADER: identity.header,
    AZURE_CLIENT_ID: ids[who].clientId,
    ...(caCertPath ? { NODE_EXTRA_CA_CERTS: caCertPath } : {}),
    KEY_VAULT_URL: keyVault.url,
    KEY_VAULT_SECRETS: 'sample-secret',
    SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: serviceBus.fullyQualifiedNamespace,
    SERVICEBUS_QUEUE: queue,
    SQL_SERVER: sql.server,
    SQL_PORT: String(sql.port),
    SQL_DATABASE: database,
    ...(redis ? { REDIS_URL: redis.url } : {}),
    ...(redis && options.redisAuth === 'entra' ? { REDIS_AUTH: 'entra' } : {}),
  });

  if (dir) {
    await mkdir(dir, { recursive: true });
    await writeFile(caCertPath, ca.certPem);
    // Owner-only: the file carries the control channel's token.
    await writeFile(join(dir, 'stack.json'), `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
    const lines = Object.entries(env('worker')).map(([k, v]) => `${k}=${v}`);
    await writeFile(
      join(dir, 'stack.env'),
      `# keyless-worker local stack (pid ${process.pid}): source it to act as the worker identity\n${lines.join('\n')}\n`,
    );
  }

  let closing: Promise<void> | undefined;
  return {
    file,
    identity,
    keyVault,
    serviceBus,
    sql,
    sqlEngine,
    redis,
    env,
    close() {
      closing ??= (async () => {
        // Reverse order of start; a failing step does not keep the others from closing.
        const steps = [
          () => control.close(),
          () => redis?.close(),
          () => sql.close(),
          () => sqlEngine.close(),
          () => serviceBus.close(),
          () => keyVault.close(),
          () => identity.close(),
          () =>
            dir
              ? Promise.all(['stack.json', 'stack.env'].map((f) => rm(join(dir, f), { force: true })))
              : undefined,
        ];
        for (const step of steps) await Promise.resolve(step()).catch(() => undefined);
      })();
      return closing;
    },
  };
}
