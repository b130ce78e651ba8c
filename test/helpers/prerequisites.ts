import { spawnSync } from 'node:child_process';

/**
 * Vitest global setup: the one program the tests need beyond npm's packages. The retry tier's tests
 * start redis-servers of their own (killed, flushed, ACL-configured), and the stacks start one when
 * nothing answers on 127.0.0.1:6379. Without it, one line says so instead of a hundred failures.
 */
export function setup(): void {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error(
      'The tests need redis-server on PATH (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis). .ci/run installs it.',
    );
  }
}
