import type { TokenCredential } from '@azure/identity';
import type { SecretClient } from '@azure/keyvault-secrets';
import { ServiceBusAdministrationClient, type ServiceBusClient } from '@azure/service-bus';
import { Redis } from 'ioredis';
import { describeIdentity } from '../identity/describe.ts';
import { redisScope } from '../retry/redis.ts';
import { createEntityReceiver, entityPath, type ServiceBusEntity } from '../servicebus/entity.ts';
import { serviceBusCode } from '../servicebus/errors.ts';
import type { SqlClient } from '../sql/client.ts';
import { isSqlError } from '../sql/errors.ts';
import { statement } from '../sql/statements.ts';

/** What one try found: the right is there, it is not (`missing`), or something else stopped it. */
export type TryResult = { outcome: 'ok' | 'missing' | 'failed' | 'skipped'; detail: string };

const messageOf = (e: unknown): string =>
  ((e instanceof Error ? e.message.split('\n')[0] : String(e)) ?? '').trim();

/** Data Receiver: peek one message (the least receive-side call; it settles nothing). */
export async function tryReceive(client: ServiceBusClient, entity: ServiceBusEntity): Promise<TryResult> {
  const receiver = createEntityReceiver(client, entity);
  try {
    await receiver.peekMessages(1);
    return { outcome: 'ok', detail: `peeked ${entityPath(entity)}` };
  } catch (error: unknown) {
    return serviceBusCode(error) === 'UnauthorizedAccess'
      ? { outcome: 'missing', detail: `peek refused: ${messageOf(error)}` }
      : { outcome: 'failed', detail: messageOf(error) };
  } finally {
    await receiver.close().catch(() => undefined);
  }
}

/** Data Sender: attach a sender link (a batch needs the link's size limit) and send nothing. */
export async function trySend(client: ServiceBusClient, entity: ServiceBusEntity): Promise<TryResult> {
  const sender = client.createSender('queue' in entity ? entity.queue : entity.topic);
  try {
    await sender.createMessageBatch();
    return { outcome: 'ok', detail: 'attached a sender, sent nothing' };
  } catch (error: unknown) {
    return serviceBusCode(error) === 'UnauthorizedAccess'
      ? { outcome: 'missing', detail: `sender refused: ${messageOf(error)}` }
      : { outcome: 'failed', detail: messageOf(error) };
  } finally {
    await sender.close().catch(() => undefined);
  }
}

/** Data Owner (KEDA): read the entity's runtime properties, the call KEDA makes for the message count. */
export async function tryReadMessageCount(
  namespace: string,
  entity: ServiceBusEntity,
  credential: TokenCredential,
  options: { localEndpoint: string | undefined },
): Promise<TryResult> {
  if (options.localEndpoint) {
    return {
      outcome: 'skipped',
      detail: `not tried: ${options.localEndpoint} has no management (HTTPS) endpoint; in Azure this reads the runtime properties`,
    };
  }
  const admin = new ServiceBusAdministrationClient(namespace, credential);
  try {
    const props =
      'queue' in entity
        ? await admin.getQueueRuntimeProperties(entity.queue)
        : await admin.getSubscriptionRuntimeProperties(entity.topic, entity.subscription);
    return { outcome: 'ok', detail: `active message count ${props.activeMessageCount}` };
  } catch (error: unknown) {
    const status = (error as { statusCode?: number }).statusCode;
    return status === 401 || status === 403
      ? { outcome: 'missing', detail: messageOf(error) }
      : { outcome: 'failed', detail: messageOf(error) };
  }
}

/** Key Vault Secrets User: read each configured secret (the value is never shown). */
export async function tryReadSecrets(client: SecretClient, names: readonly string[]): Promise<TryResult> {
  if (names.length === 0) return { outcome: 'skipped', detail: 'no KEY_VAULT_SECRETS configured' };
  for (const name of names) {
    try {
      await client.getSecret(name);
    } catch (error: unknown) {
      const status = (error as { statusCode?: number }).statusCode;
      if (status === 403 && !/disabled/i.test(messageOf(error)))
        return { outcome: 'missing', detail: `reading '${name}' refused: ${messageOf(error)}` };
      return { outcome: 'failed', detail: `reading '${name}': ${messageOf(error)}` };
    }
  }
  return { outcome: 'ok', detail: `read ${names.map((n) => `'${n}'`).join(', ')}` };
}

/** What HAS_PERMS_BY_NAME answers for each database role's rights; `login` is missing when no user exists. */
export type SqlPermissions =
  | { login: 'ok'; byRole: Record<'db_datareader' | 'db_datawriter' | 'db_ddladmin', boolean | null> }
  | { login: 'missing' | 'failed'; detail: string };

/** Logs in to the database and asks HAS_PERMS_BY_NAME about the tables the worker writes. */
export async function trySqlPermissions(db: SqlClient): Promise<SqlPermissions> {
  try {
    const { rows } = await db.query(statement('select-permissions'));
    const r = (rows[0] ?? {}) as Record<string, number | null>;
    const all = (...names: string[]): boolean | null =>
      names.some((n) => r[n] === null || r[n] === undefined) ? null : names.every((n) => r[n] === 1);
    return {
      login: 'ok',
      byRole: {
        db_datareader: all('InboxSelect'),
        db_datawriter: all('InboxInsert', 'OrdersInsert', 'OrdersUpdate', 'OrderLinesInsert'),
        db_ddladmin: r.CreateTable === 1,
      },
    };
  } catch (error: unknown) {
    if (isSqlError(error) && error.code === 'LoginFailed')
      return { login: 'missing', detail: messageOf(error) };
    return { login: 'failed', detail: messageOf(error) };
  }
}

/** How to reach Redis: as the retry tier connects (Entra: user = object id, password = a token). */
export type RedisCheckOptions = {
  url: string;
  auth: { kind: 'none' } | { kind: 'entra'; username: string; password: () => Promise<string> };
  /** @defaultValue 5000 */
  timeoutMs?: number;
};

/**
 * The retry tier's Entra login: user = the identity's object id (read from a Redis token), password
 * = a token for https://redis.azure.com/.default from the same credential.
 */
export async function entraRedisAuth(credential: TokenCredential): Promise<RedisCheckOptions['auth']> {
  const token = async () => (await credential.getToken(redisScope))?.token ?? '';
  const username = describeIdentity(await token()).objectId ?? '';
  return { kind: 'entra', username, password: token };
}

/** AUTH (with Entra) and PING: the least call the data access policy allows. */
export async function tryRedis(options: RedisCheckOptions): Promise<TryResult> {
  const { auth } = options;
  let redis: Redis | undefined;
  // A refused AUTH arrives as an 'error' event; the command then only sees the closed connection.
  let refused: unknown;
  try {
    // AUTH on connect, as the retry tier's client does; no ready check, which would run before it.
    redis = new Redis(options.url, {
      lazyConnect: true,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      connectTimeout: options.timeoutMs ?? 5_000,
      ...(auth.kind === 'entra' ? { username: auth.username, password: await auth.password() } : {}),
    });
    redis.on('error', (e: unknown) => {
      refused ??= e;
    });
    await redis.connect();
    await redis.ping();
    return { outcome: 'ok', detail: `${auth.kind === 'entra' ? 'AUTH and ' : ''}PING answered` };
  } catch (error: unknown) {
    const detail = messageOf(refused ?? error);
    return /WRONGPASS|NOPERM|NOAUTH|invalid username-password/i.test(detail)
      ? { outcome: 'missing', detail }
      : { outcome: 'failed', detail };
  } finally {
    redis?.disconnect();
  }
}
