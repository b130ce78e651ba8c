import type { TokenCredential } from '@azure/identity';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { RetryError } from './errors.ts';

/** Token audience of Azure Managed Redis and Azure Cache for Redis with Microsoft Entra authentication. */
export const redisScope = 'https://redis.azure.com/.default';

export type RedisAuth =
  | { kind: 'none' }
  /** AUTH as `objectId` (the identity's `oid`) with a token for {@link redisScope}, renewed before it expires. */
  | { kind: 'entra'; credential: TokenCredential; objectId: string };

export type RedisConnectionsOptions = {
  url: string;
  auth: RedisAuth;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Longest wait between reconnect attempts. @defaultValue 5000 */
  maxReconnectDelayMs?: number;
};

export type RedisConnections = {
  /**
   * A connection for single commands (adding jobs, the reconciler): it fails at once while Redis is
   * down instead of queueing, so a message can be abandoned rather than wait on a dead Redis.
   */
  commands(): Redis;
  /** A connection for BullMQ's Worker: `maxRetriesPerRequest: null`, and its duplicates are tracked too. */
  worker(): Redis;
  /** Fetches the first token (entra) and opens nothing else. */
  start(): Promise<void>;
  /** Closes every connection made here, duplicates included. Idempotent. */
  close(): Promise<void>;
};

/**
 * Every Redis connection of the process, made here so that each one (BullMQ duplicates the
 * worker's for its blocking commands) gets the current Entra token on every (re)connect and a
 * fresh AUTH before the token it logged in with expires.
 */
export function createRedisConnections(options: RedisConnectionsOptions): RedisConnections {
  const { auth, logger } = options;
  const maxDelay = options.maxReconnectDelayMs ?? 5_000;
  const live = new Set<Redis>();
  let credentials: { username: string; password: string } | undefined;
  let refreshTimer: NodeJS.Timeout | undefined;
  let closing: Promise<void> | undefined;

  const base: RedisOptions = {
    // Reconnect forever with a growing wait: Redis coming back must heal the retry tier by itself.
    retryStrategy: (times) => Math.min(maxDelay, 100 * 2 ** Math.min(times, 10)),
    lazyConnect: false,
  };

  const make = (extra: RedisOptions): Redis => {
    if (auth.kind === 'entra' && !credentials) {
      // A connection opened without a token fails its handshake and never recovers by itself.
      throw new RetryError('RedisAuth', 'start() the Redis connections before opening one');
    }
    const client = new TrackedRedis(options.url, { ...base, ...credentials, ...extra }, make);
    live.add(client);
    client.on('end', () => live.delete(client));
    // ioredis emits 'error' on every failed reconnect; without a listener it would crash the process.
    client.on('error', (error: Error) => {
      if (!closing) logger.warn({ stage: 'retry', err: error.message }, 'redis connection error');
    });
    return client;
  };

  const refresh = async (): Promise<void> => {
    if (auth.kind !== 'entra' || closing) return;
    let delayMs = 30_000;
    try {
      const token = await auth.credential.getToken(redisScope);
      if (!token) throw new RetryError('RedisAuth', 'the credential returned no token for Redis');
      credentials = { username: auth.objectId, password: token.token };
      for (const client of live) {
        // Reconnects read these options; a live connection needs AUTH before its token expires.
        Object.assign(client.options, credentials);
        if (client.status === 'ready') {
          client.auth(auth.objectId, token.token).catch((error: unknown) => {
            logger.warn({ stage: 'retry', err: error }, 're-authenticating a redis connection failed');
          });
        }
      }
      // Halving the remaining time lands a refresh inside the credential's own renewal window.
      delayMs = Math.max(500, (token.expiresOnTimestamp - Date.now()) / 2);
    } catch (error: unknown) {
      logger.error({ stage: 'retry', err: error }, 'no Redis token; retrying');
      delayMs = 5_000;
    }
    if (!closing) {
      refreshTimer = setTimeout(() => void refresh(), delayMs);
      refreshTimer.unref();
    }
  };

  let commands: Redis | undefined;
  let worker: Redis | undefined;
  return {
    commands: () => {
      commands ??= make({ maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000 });
      return commands;
    },
    worker: () => {
      worker ??= make({ maxRetriesPerRequest: null });
      return worker;
    },
    async start() {
      if (auth.kind !== 'entra') return;
      await refresh();
      if (!credentials) throw new RetryError('RedisAuth', `could not get a token for ${redisScope}`);
    },
    close() {
      closing ??= (async () => {
        clearTimeout(refreshTimer);
        await Promise.all(
          [...live].map(async (client) => {
            try {
              await Promise.race([client.quit(), new Promise((r) => setTimeout(r, 1_000))]);
            } catch {
              // A connection that is down has nothing to say goodbye to.
            }
            client.disconnect();
          }),
        );
        live.clear();
      })();
      return closing;
    },
  };
}

/** ioredis whose duplicates (BullMQ makes them for blocking commands) come from the same factory. */
class TrackedRedis extends Redis {
  readonly #make: (extra: RedisOptions) => Redis;
  constructor(url: string, options: RedisOptions, make: (extra: RedisOptions) => Redis) {
    super(url, { ...options, replyMapping: 'legacy' });
    this.#make = make;
  }
  // biome-ignore lint/suspicious/noExplicitAny: ioredis types duplicate() with a reply-mapping generic.
  override duplicate(override?: Partial<RedisOptions>): any {
    const { username: _u, password: _p, ...rest } = this.options;
    return this.#make({ ...rest, ...override });
  }
}

/**
 * BullMQ loses jobs when Redis evicts its keys: anything but `noeviction` is refused. Read from
 * INFO because Azure Redis does not allow CONFIG GET.
 */
export async function checkEvictionPolicy(client: Redis): Promise<void> {
  const info = await client.info('memory');
  const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
  if (policy && policy !== 'noeviction') {
    throw new RetryError(
      'EvictionPolicy',
      `Redis has maxmemory-policy ${policy}: BullMQ needs maxmemory-policy noeviction, or evicted keys lose retry jobs. Set it on the server (Azure: the cache's "maxmemory-policy" setting; locally: CONFIG SET maxmemory-policy noeviction).`,
    );
  }
}
