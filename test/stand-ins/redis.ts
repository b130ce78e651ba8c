import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export type LocalRedis = { url: string; startedHere: boolean; close(): Promise<void> };

/** Whether something accepts TCP connections at host:port. */
export function reachable(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export class RedisUnavailableError extends Error {
  readonly code = 'RedisUnavailable';
  constructor(message: string) {
    super(message);
    this.name = 'RedisUnavailableError';
  }
}

/**
 * A Redis for local runs: the one on 127.0.0.1:6379 when it answers, else a private
 * `redis-server` (nothing kept on disk) on `port`, stopped by close(). Without redis-server
 * installed it says how to get one.
 */
export async function ensureLocalRedis(options: {
  port: number;
  preferDefault?: boolean;
}): Promise<LocalRedis> {
  if (options.preferDefault !== false && (await reachable('127.0.0.1', 6379))) {
    return { url: 'redis://127.0.0.1:6379', startedHere: false, close: async () => {} };
  }
  if (spawnSync('redis-server', ['--version']).error) {
    throw new RedisUnavailableError(
      'No Redis answers on 127.0.0.1:6379 and redis-server is not installed. Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or set REDIS_URL.',
    );
  }
  const child = spawn(
    'redis-server',
    [
      '--bind',
      '127.0.0.1',
      '--port',
      String(options.port),
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      '/tmp',
    ],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 100 && !(await reachable('127.0.0.1', options.port)); i++) await sleep(50);
  if (!(await reachable('127.0.0.1', options.port))) {
    child.kill();
    throw new RedisUnavailableError(`redis-server did not start on 127.0.0.1:${options.port}`);
  }
  return {
    url: `redis://127.0.0.1:${options.port}`,
    startedHere: true,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
