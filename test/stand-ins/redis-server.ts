import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { reachable } from './redis.ts';

export type RedisServer = {
  port: number;
  url: string;
  /** SIGKILL: the process dies with everything in memory (no persistence). */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  close(): Promise<void>;
};

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/**
 * A private redis-server for a test that flushes, kills or configures Redis (never the shared
 * 6379): nothing on disk, stopped by close().
 */
export async function startRedisServer(extraArgs: string[] = []): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const args = ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'];
    child = spawn('redis-server', [...args, '--dir', '/tmp', ...extraArgs], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !(await reachable('127.0.0.1', port)); i++) await sleep(25);
    if (!(await reachable('127.0.0.1', port))) throw new Error(`redis-server did not start on ${port}`);
  };
  const stop = (signal: NodeJS.Signals): Promise<void> =>
    new Promise((resolve) => {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill(signal);
    });
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: () => stop('SIGKILL'),
    restart: launch,
    close: () => stop('SIGTERM'),
  };
}
