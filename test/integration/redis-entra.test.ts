import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entraRedisAuth, tryRedis } from '../../src/doctor/checks.ts';
import { createCredential } from '../../src/identity/credential.ts';
import { retryQueuePrefix } from '../../src/retry/job.ts';
import { createRedisConnections } from '../../src/retry/redis.ts';
import { type LocalAzure, startLocalAzure } from '../helpers/azure-stand-ins.ts';
import { testLogger } from '../helpers/retry-fixture.ts';
import type { UserAssignedIdentity } from '../stand-ins/identity.ts';
import { type EntraRedis, redisAudience, startEntraRedis } from '../stand-ins/redis-entra.ts';

// Keyless Redis as Azure Managed Redis does it: username = object id, password = an Entra token
// for https://redis.azure.com, checked by a real redis-server whose ACL holds exactly the valid tokens.
let azure: LocalAzure;
let redis: EntraRedis;
let worker: UserAssignedIdentity;

beforeAll(async () => {
  azure = await startLocalAzure();
  worker = azure.identity.addIdentity('keyless-worker-redis');
  redis = await startEntraRedis({ authority: azure.identity, accessPolicyAssignments: [worker.objectId] });
});

afterAll(async () => {
  await redis?.close();
  await azure?.close();
});

/** Whether Redis lets `password` in as the worker's object id. */
const logsIn = async (password: string): Promise<boolean> => {
  const client = new Redis(redis.url, {
    username: worker.objectId,
    password,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  const errors: string[] = [];
  client.on('error', (e: Error) => errors.push(e.message));
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    // Redis itself said no: not a network failure.
    expect(errors.join('\n')).toMatch(/WRONGPASS/);
    return false;
  } finally {
    client.disconnect();
  }
};

const authCalls = async (): Promise<number> => {
  const stats = await redis.admin.info('commandstats');
  return Number(/cmdstat_auth:calls=(\d+)/.exec(stats)?.[1] ?? 0);
};

describe('Redis with Microsoft Entra authentication', () => {
  it('lets the worker in with its token for https://redis.azure.com, as its object id', async () => {
    const connections = createRedisConnections({
      url: redis.url,
      auth: {
        kind: 'entra',
        credential: createCredential({ clientId: worker.clientId }),
        objectId: worker.objectId,
      },
      logger: testLogger,
    });
    try {
      await connections.start();
      const client = connections.commands();
      await expect.poll(() => client.status, { timeout: 5_000 }).toBe('ready');
      expect(await client.call('ACL', 'WHOAMI')).toBe(worker.objectId);
    } finally {
      await connections.close();
    }
  });

  it("lets the doctor's Redis row in as the retry tier logs in, and names a missing access", async () => {
    const credential = createCredential({ clientId: worker.clientId });
    expect(await tryRedis({ url: redis.url, auth: await entraRedisAuth(credential) })).toEqual({
      outcome: 'ok',
      detail: 'AUTH and PING answered',
    });
    const stranger = azure.identity.addIdentity('keyless-stranger-redis');
    // Its token is valid, but it has no data access policy assignment: Redis has no user for it.
    const auth = await entraRedisAuth(createCredential({ clientId: stranger.clientId }));
    expect(auth).toMatchObject({ kind: 'entra', username: stranger.objectId });
    expect((await tryRedis({ url: redis.url, auth })).outcome).toBe('missing');
  });

  it('closes a connection that outlives its token without a new AUTH', async () => {
    const client = new Redis(redis.url, {
      username: worker.objectId,
      password: azure.identity.issueToken(worker, redisAudience, 1),
      retryStrategy: () => null,
    });
    client.on('error', () => undefined);
    const before = redis.expiredConnections();
    expect(await client.ping()).toBe('PONG');
    await expect.poll(() => client.status, { timeout: 5_000 }).toBe('end');
    expect(redis.expiredConnections()).toBe(before + 1);
  });

  it('refuses a token for another audience, and a token once it has expired', async () => {
    expect(await logsIn(azure.identity.issueToken(worker, 'https://vault.azure.net'))).toBe(false);
    const shortLived = azure.identity.issueToken(worker, redisAudience, 1);
    await expect.poll(() => logsIn(shortLived), { timeout: 2_000 }).toBe(true);
    await expect.poll(() => logsIn(shortLived), { timeout: 5_000, interval: 250 }).toBe(false);
  });

  it('keeps long-lived connections, BullMQ blocking ones included, working across token refreshes', async () => {
    azure.identity.setTokenLifetimeSec(2);
    // An identity of its own: the process-wide token cache holds the other one's 1-hour token.
    const worker = azure.identity.addIdentity('keyless-worker-redis-refresh');
    redis.assignAccessPolicy(worker.objectId);
    const connections = createRedisConnections({
      url: redis.url,
      auth: {
        kind: 'entra',
        credential: createCredential({ clientId: worker.clientId }),
        objectId: worker.objectId,
      },
      logger: testLogger,
    });
    await connections.start();
    const queue = new Queue('entra-refresh', {
      connection: connections.commands(),
      prefix: retryQueuePrefix,
    });
    const done: string[] = [];
    const bull = new Worker(
      'entra-refresh',
      async (job) => {
        done.push(String(job.id));
      },
      { connection: connections.worker(), prefix: retryQueuePrefix, drainDelay: 1 },
    );
    try {
      await bull.waitUntilReady();
      const tokens = () =>
        azure.identity.requests.filter((r) => r.resource === redisAudience && r.clientId === worker.clientId)
          .length;
      const firstToken = tokens();
      const expiredBefore = redis.expiredConnections();
      const authsBefore = await authCalls();
      await queue.add('a', {}, { jobId: 'before' });
      await expect.poll(() => done, { timeout: 5_000 }).toContain('before');
      // Several lifetimes: every token the connections logged in with has expired meanwhile.
      await new Promise((r) => setTimeout(r, 5_000));
      expect(tokens()).toBeGreaterThan(firstToken + 1);
      expect(await authCalls()).toBeGreaterThan(authsBefore);
      // Azure (here the stand-in's proxy) closes a connection whose token expired: none was.
      expect(redis.expiredConnections()).toBe(expiredBefore);
      await queue.add('b', {}, { jobId: 'after-refresh' });
      await expect.poll(() => done, { timeout: 5_000 }).toContain('after-refresh');
      // A forced reconnect of every connection (as after a failover) logs in with the current token.
      expect(await redis.admin.call('CLIENT', 'KILL', 'USER', worker.objectId)).toBeGreaterThanOrEqual(3);
      await expect.poll(() => connections.commands().status, { timeout: 5_000 }).toBe('ready');
      await queue.add('c', {}, { jobId: 'after-reconnect' });
      await expect.poll(() => done, { timeout: 10_000 }).toContain('after-reconnect');
    } finally {
      azure.identity.setTokenLifetimeSec(3600);
      await bull.close();
      await queue.close();
      await connections.close();
    }
  });
});
