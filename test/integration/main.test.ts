import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IdentityStandIn, startIdentityStandIn } from '../stand-ins/identity.ts';

const mainPath = new URL('../../src/main.ts', import.meta.url).pathname;

/** Runs the worker as a process, as the platform does, and collects what it printed. */
function runMain(
  env: Record<string, string>,
  timeoutMs = 20_000,
  /** Sees the output so far, and may signal the process. */
  watch?: (stdout: string, signal: (s: NodeJS.Signals) => void) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [mainPath], {
      env: { PATH: process.env.PATH ?? '', HTTP_PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      watch?.(stdout, (signal) => child.kill(signal));
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const valid = {
  SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: 'localhost:1',
  SERVICEBUS_QUEUE: 'orders',
  SQL_SERVER: 'localhost',
  SQL_DATABASE: 'keyless',
};

let identity: IdentityStandIn;
beforeAll(async () => {
  identity = await startIdentityStandIn();
});
afterAll(async () => {
  await identity.close();
});

describe('starting the worker process', () => {
  it('stops at once, naming the missing variable', async () => {
    const { SQL_SERVER: _, ...withoutServer } = valid;
    const result = await runMain(withoutServer);
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('SQL_SERVER: is required but not set');
  });

  it('stops naming the identity it asked for when the endpoint does not know it', async () => {
    const clientId = '11111111-2222-3333-4444-555555555555';
    const result = await runMain({
      ...valid,
      IDENTITY_ENDPOINT: identity.endpoint,
      IDENTITY_HEADER: identity.header,
      AZURE_CLIENT_ID: clientId,
      IDENTITY_STARTUP_TIMEOUT_MS: '500',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`user-assigned managed identity with client id ${clientId}`);
    expect(result.stderr).toContain('Identity not found');
    expect(result.stdout + result.stderr).not.toMatch(/eyJ[\w-]+\.eyJ/); // no JWT in any output
  });

  it('opens its ops endpoints on the address HTTP_HOST names, as npm start asks for loopback', async () => {
    const result = await runMain({
      ...valid,
      HTTP_HOST: '127.0.0.1',
      IDENTITY_ENDPOINT: identity.endpoint,
      IDENTITY_HEADER: identity.header,
      AZURE_CLIENT_ID: '22222222-2222-3333-4444-555555555555',
      IDENTITY_STARTUP_TIMEOUT_MS: '200',
    });
    const listening = result.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { msg: string; host?: string })
      .find((l) => l.msg.startsWith('ops endpoints listening'));
    expect(listening?.host).toBe('127.0.0.1');
  });

  it('on a signal during start, releases what start acquired before it exits', async () => {
    let signalled = false;
    const result = await runMain(
      {
        ...valid,
        IDENTITY_ENDPOINT: identity.endpoint,
        IDENTITY_HEADER: identity.header,
        AZURE_CLIENT_ID: '99999999-2222-3333-4444-555555555555',
        IDENTITY_STARTUP_TIMEOUT_MS: '60000',
      },
      30_000,
      (stdout, signal) => {
        // Still starting: the first token is being retried.
        if (!signalled && stdout.includes('identity endpoint not ready; retrying')) {
          signalled = true;
          signal('SIGTERM');
        }
      },
    );
    expect(signalled).toBe(true);
    expect(result.code).toBe(0);
    const messages = result.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { msg: string }).msg);
    // 'worker stopped' is logged once start's cleanup has run; the process exits only after it.
    expect(messages.indexOf('worker stopped')).toBeGreaterThan(
      messages.indexOf('shutting down: no new messages, draining in-flight ones'),
    );
    expect(messages.at(-1)).toBe('stopped');
  });
});
