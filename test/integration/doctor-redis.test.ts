import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tryRedis } from '../../src/doctor/checks.ts';

// The doctor's Redis row against a real redis-server of its own (never the shared one on 6379),
// set up as Azure Managed Redis with Entra authentication is: the identity's object id is the user
// name and a token is its password; no default user.
const objectId = '5f0c2a51-1111-4d6e-9c1e-3b1d7f2a9e10';
const token = 'header.claims-of-a-token-for-redis.azure.com.signature';
let redis: ChildProcess;
let url: string;

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

beforeAll(async () => {
  const port = await freePort();
  url = `redis://127.0.0.1:${port}`;
  redis = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--user',
      'default',
      'off',
      '--user',
      objectId,
      'on',
      `>${token}`,
      '~*',
      '&*',
      '+@all',
    ],
    { stdio: 'ignore' },
  );
  const up = () =>
    new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => resolve(socket.end() !== undefined)).on('error', () =>
        resolve(false),
      );
    });
  for (let i = 0; i < 100 && !(await up()); i++) await new Promise((r) => setTimeout(r, 100));
});

afterAll(() => {
  redis?.kill('SIGTERM');
});

describe("the doctor's Redis row", () => {
  it('is ok when the identity AUTHs with its object id and token and PING answers', async () => {
    const result = await tryRedis({
      url,
      auth: { kind: 'entra', username: objectId, password: async () => token },
    });
    expect(result).toEqual({ outcome: 'ok', detail: 'AUTH and PING answered' });
  });

  it('says the access is missing when the identity has no data access policy (AUTH refused)', async () => {
    const result = await tryRedis({
      url,
      auth: { kind: 'entra', username: '00000000-0000-4000-8000-000000000000', password: async () => token },
    });
    expect(result.outcome).toBe('missing');
    expect(result.detail).toMatch(/WRONGPASS/);
  });

  it('says the access is missing when it connects without authenticating', async () => {
    const result = await tryRedis({ url, auth: { kind: 'none' } });
    expect(result.outcome).toBe('missing');
    expect(result.detail).toMatch(/NOAUTH/);
  });
});
