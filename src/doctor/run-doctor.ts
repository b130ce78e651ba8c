import type { TokenCredential } from '@azure/identity';
import { ServiceBusClient } from '@azure/service-bus';
import type { Config } from '../config.ts';
import { scopes } from '../identity/credential.ts';
import { describeIdentity, type IdentityDescription } from '../identity/describe.ts';
import {
  type DeploymentNames,
  type Grant,
  grantCommand,
  grantsOf,
  type Principal,
} from '../identity/roles.ts';
import { createSecretClient } from '../keyvault/client.ts';
import type { SqlClient } from '../sql/client.ts';
import {
  type RedisCheckOptions,
  type SqlPermissions,
  type TryResult,
  tryReadMessageCount,
  tryReadSecrets,
  tryReceive,
  tryRedis,
  trySend,
  trySqlPermissions,
} from './checks.ts';

/** One line of the doctor's answer: a right from the roles table and what trying it found. */
export type Verdict = TryResult & { grant: Grant; right: string; fix: string | undefined };

export type DoctorOptions = {
  principal: Principal;
  /**
   * `own`: the rights the roles table gives `principal`, so a correctly provisioned identity is
   * healthy; `worker`: whether `principal` could run the worker. @defaultValue 'own'
   */
  question?: DoctorQuestion;
  credential: TokenCredential;
  serviceBus: Config['serviceBus'];
  keyVault: Config['keyVault'];
  /** Opens the database as the identity; undefined when SQL is not configured. */
  sql: (() => SqlClient & { close(): Promise<void> }) | undefined;
  sqlTarget: { server: string; database: string } | undefined;
  redis: RedisCheckOptions | undefined;
  /** Resource names for the fix commands. @defaultValue derived from the settings */
  names?: Partial<DeploymentNames>;
};

/** What the doctor asks: does the identity hold its own rights, or could it run the worker. */
export type DoctorQuestion = 'own' | 'worker';

/**
 * The rights to try: the rows of the roles table for `principal`, or the worker's rows when the
 * question is whether it could run the worker. Nothing else: an identity that holds exactly its
 * own roles is healthy, and least privilege means it lacks the others.
 */
export const rightsToTry = (principal: Principal, question: DoctorQuestion = 'own'): Grant[] =>
  grantsOf(question === 'worker' ? 'worker' : principal);

/** `Key Vault Secrets User on vault keyless-kv`, `db_datawriter in database keyless`, … */
const describeGrant = (grant: Grant, n: DeploymentNames): string => {
  if (grant.kind === 'sql') return `${grant.role} in database ${n.database}`;
  if (grant.kind === 'redis') return `Redis access policy '${grant.role}' on ${n.redisCluster}`;
  const where = { queue: `queue ${n.entityPath}`, vault: `vault ${n.keyVault}`, registry: 'the registry' };
  return `${grant.role} on ${where[grant.scope as keyof typeof where] ?? grant.scope}`;
};

const nameOf = (identity: IdentityDescription): string =>
  identity.resourceId?.split('/').at(-1) ?? '<name of the managed identity>';

/** Tries each right of `principal` with the least call it allows; never changes anything. */
export async function runDoctor(
  options: DoctorOptions,
): Promise<{ identity: IdentityDescription; verdicts: Verdict[] }> {
  const { credential, serviceBus, keyVault } = options;
  const token = await credential.getToken(scopes.serviceBus);
  const identity = describeIdentity(token?.token ?? '');
  const entity = serviceBus.entity;
  const names: DeploymentNames = {
    resourceGroup: '<resource group>',
    serviceBusNamespace: serviceBus.fullyQualifiedNamespace.split('.')[0] ?? '<namespace>',
    entityPath: 'queue' in entity ? entity.queue : `${entity.topic}/subscriptions/${entity.subscription}`,
    keyVault: keyVault.url ? (new URL(keyVault.url).hostname.split('.')[0] ?? '<vault>') : '<vault>',
    sqlServer: options.sqlTarget?.server ?? '<sql server>',
    database: options.sqlTarget?.database ?? '<database>',
    registry: '<registry>',
    redisCluster: options.redis ? redisName(new URL(options.redis.url).hostname) : '<redis>',
    ...options.names,
  };
  const who = { objectId: identity.objectId ?? '<object id>', name: nameOf(identity) };
  // No retries: a refused right is the answer, and the SDK would retry the refusal for a minute and more.
  const client = new ServiceBusClient(serviceBus.fullyQualifiedNamespace, credential, {
    retryOptions: { maxRetries: 0, timeoutInMs: 15_000 },
    ...(serviceBus.endpoint ? { customEndpointAddress: serviceBus.endpoint } : {}),
  });
  let sqlPermissions: Promise<SqlPermissions> | undefined;
  const sqlOnce = (): Promise<SqlPermissions> => {
    sqlPermissions ??= (async () => {
      const db = options.sql?.();
      if (!db) return { login: 'failed', detail: 'SQL is not configured' } as const;
      try {
        return await trySqlPermissions(db);
      } finally {
        await db.close();
      }
    })();
    return sqlPermissions;
  };

  const tryGrant = async (grant: Grant): Promise<TryResult> => {
    if (grant.kind === 'rbac' && grant.scope === 'queue') {
      if (grant.role === 'Azure Service Bus Data Receiver') return tryReceive(client, entity);
      if (grant.role === 'Azure Service Bus Data Sender') return trySend(client, entity);
      return tryReadMessageCount(serviceBus.fullyQualifiedNamespace, entity, credential, {
        // A port in the namespace or a custom endpoint: the local stand-in, which speaks AMQP only.
        localEndpoint:
          serviceBus.endpoint ??
          (/:\d+$/.test(serviceBus.fullyQualifiedNamespace) ? serviceBus.fullyQualifiedNamespace : undefined),
      });
    }
    if (grant.scope === 'registry')
      return {
        outcome: 'skipped',
        detail: 'the platform pulls the image before the container starts: a running replica proves it',
      };
    if (grant.kind === 'rbac' && grant.scope === 'vault') {
      if (!keyVault.url) return { outcome: 'skipped', detail: 'no KEY_VAULT_URL configured' };
      return tryReadSecrets(createSecretClient(keyVault.url, credential), keyVault.secrets);
    }
    if (grant.kind === 'sql') {
      const p = await sqlOnce();
      if (p.login !== 'ok') return { outcome: p.login, detail: `login: ${p.detail}` };
      const has = p.byRole[grant.role as keyof typeof p.byRole];
      if (has === null)
        return { outcome: 'failed', detail: 'dbo.Inbox is not there: run the migrations first' };
      return has
        ? { outcome: 'ok', detail: 'HAS_PERMS_BY_NAME says yes' }
        : { outcome: 'missing', detail: 'HAS_PERMS_BY_NAME says no' };
    }
    if (!options.redis) return { outcome: 'skipped', detail: 'no REDIS_URL configured' };
    return tryRedis(options.redis);
  };

  const verdicts: Verdict[] = [];
  try {
    for (const grant of rightsToTry(options.principal, options.question)) {
      const result = await tryGrant(grant);
      const sqlUserMissing =
        grant.kind === 'sql' && result.outcome === 'missing' && result.detail.startsWith('login');
      const fix =
        result.outcome !== 'missing'
          ? undefined
          : sqlUserMissing
            ? `CREATE USER [${who.name}] FROM EXTERNAL PROVIDER; ${grantCommand(grant, who, names)}`
            : grantCommand(grant, who, names);
      verdicts.push({ ...result, grant, right: describeGrant(grant, names), fix });
    }
  } finally {
    await client.close().catch(() => undefined);
  }
  return { identity, verdicts };
}

/** The cache's name as Azure lists it (the first label of its host); a local address as it is. */
const redisName = (host: string): string =>
  /^(\d+\.){3}\d+$|^localhost$|^\[/.test(host) ? host : (host.split('.')[0] ?? host);
