import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { IdentityStandIn, IssuedToken } from './identity.ts';
import { type RedisServer, startRedisServer } from './redis-server.ts';
import { startTokenExpiryProxy } from './redis-token-expiry.ts';

/** Audience of Azure Redis tokens (the scope `https://redis.azure.com/.default` without `/.default`). */
export const redisAudience = 'https://redis.azure.com';

export type EntraRedis = {
  /** Through a proxy that closes a connection when its token expires without a new AUTH, as Azure does. */
  url: string;
  /** Connections closed that way. */
  expiredConnections(): number;
  server: RedisServer;
  /** Gives an identity (object id) a data access policy assignment: its tokens from now on log in. */
  assignAccessPolicy(objectId: string): void;
  /** A connection that bypasses Entra (the stand-in's own ACL user), for tests to look inside. */
  admin: Redis;
  close(): Promise<void>;
};

/**
 * A real redis-server that accepts exactly the Entra tokens currently valid for Azure Redis, as
 * Azure Managed Redis does: one ACL user per object id, whose password set is the unexpired tokens
 * the identity stand-in signed for `https://redis.azure.com`. A token for another audience is
 * never added and an expired one is removed, so Redis itself refuses them. Only identities with a
 * data access policy assignment (`accessPolicyAssignments`, object ids) get a user, as in Azure, where
 * a valid token of any other identity is refused too. The default user is off, and a connection
 * that outlives its token without a new AUTH is closed.
 */
export async function startEntraRedis(options: {
  authority: IdentityStandIn;
  accessPolicyAssignments: readonly string[];
}): Promise<EntraRedis> {
  const assigned = new Set(options.accessPolicyAssignments);
  const server = await startRedisServer();
  const adminPassword = randomBytes(24).toString('hex');
  const bootstrap = new Redis(server.url, { maxRetriesPerRequest: 1 });
  await bootstrap.call('ACL', 'SETUSER', 'stand-in-admin', 'on', `>${adminPassword}`, '~*', '&*', '+@all');
  await bootstrap.call('ACL', 'SETUSER', 'default', 'off');
  bootstrap.disconnect();
  const admin = new Redis(server.url, { username: 'stand-in-admin', password: adminPassword });
  admin.on('error', () => undefined);

  const timers = new Set<NodeJS.Timeout>();
  const accept = (issued: IssuedToken): void => {
    if (issued.audience.replace(/\/+$/, '') !== redisAudience || !assigned.has(issued.objectId)) return;
    const user = issued.objectId;
    void admin
      .call('ACL', 'SETUSER', user, 'on', `>${issued.token}`, '~*', '&*', '+@all')
      .catch(() => undefined);
    const timer = setTimeout(
      () => {
        timers.delete(timer);
        void admin.call('ACL', 'SETUSER', user, `<${issued.token}`).catch(() => undefined);
      },
      Math.max(0, issued.expiresAtMs - Date.now()),
    );
    timer.unref();
    timers.add(timer);
  };
  const unsubscribe = options.authority.onTokenIssued(accept);
  const proxy = await startTokenExpiryProxy(server);

  return {
    url: `redis://127.0.0.1:${proxy.port}`,
    assignAccessPolicy: (objectId) => void assigned.add(objectId),
    expiredConnections: () => proxy.expiredConnections(),
    server,
    admin,
    async close() {
      unsubscribe();
      for (const t of timers) clearTimeout(t);
      admin.disconnect();
      await proxy.close();
      await server.close();
    },
  };
}
