import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createHealth, type Health } from '../../src/http/health.ts';
import { createReadiness } from '../../src/http/readiness.ts';
import { createOpsServer, type OpsServer } from '../../src/http/server.ts';
import { createMetrics } from '../../src/metrics-registry.ts';

const silent = pino({ level: 'silent' });
const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
});

async function serve(readiness = createReadiness(), health: Health = createHealth()): Promise<OpsServer> {
  const server = createOpsServer({
    port: 0,
    host: '127.0.0.1',
    health,
    readiness,
    metrics: createMetrics(),
    logger: silent,
  });
  open.push(health, server);
  await server.start();
  return server;
}

const blockFor = (ms: number): void => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // Busy on purpose: the loop must not turn.
  }
};

describe('readiness', () => {
  it('is ready when every named check passes', async () => {
    const readiness = createReadiness();
    readiness.add('a', () => undefined);
    readiness.add('b', async () => undefined);
    expect(await readiness.check()).toEqual({ ready: true, checks: { a: 'ok', b: 'ok' } });
  });

  it('is not ready with no checks at all: nothing has said it can work', async () => {
    expect(await createReadiness().check()).toEqual({ ready: false, checks: {} });
  });

  it('names the failing check and its reason, and fails a check that does not answer in time', async () => {
    const readiness = createReadiness({ timeoutMs: 50 });
    readiness.add('sql', async () => {
      throw new Error('login failed');
    });
    readiness.add(
      'slow',
      (signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve())),
    );
    readiness.add('fine', () => undefined);
    expect(await readiness.check()).toEqual({
      ready: false,
      checks: { sql: 'login failed', slow: 'no answer within 50 ms', fine: 'ok' },
    });
  });

  it('stays not ready once draining, whatever the checks say', async () => {
    const readiness = createReadiness();
    readiness.add('a', () => undefined);
    readiness.setDraining();
    expect(await readiness.check()).toEqual({ ready: false, checks: { shutdown: 'draining', a: 'ok' } });
  });
});

describe('liveness', () => {
  it('reports a stuck event loop once it has stalled longer than the limit', async () => {
    const health = createHealth({ maxEventLoopDelayMs: 100 });
    open.push(health);
    await new Promise((r) => setTimeout(r, 50));
    expect(health.check().healthy).toBe(true);
    blockFor(400);
    await new Promise((r) => setTimeout(r, 30));
    const after = health.check();
    expect(after.healthy).toBe(false);
    expect(after.eventLoopDelayMs).toBeGreaterThanOrEqual(300);
    expect(after.detail).toMatch(/event loop delayed \d+ ms \(limit 100 ms\)/);
  });
});

describe('the ops server', () => {
  it('answers /readyz 503 with the failing check, then 200 once it passes', async () => {
    const readiness = createReadiness();
    let sqlUp = false;
    readiness.add('sql', () => {
      if (!sqlUp) throw new Error('SQL unreachable');
    });
    const server = await serve(readiness);
    const url = `http://127.0.0.1:${server.port}/readyz`;
    const down = await fetch(url);
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({
      status: 'not ready',
      ready: false,
      checks: { sql: 'SQL unreachable' },
    });
    sqlUp = true;
    const up = await fetch(url);
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ status: 'ready', ready: true, checks: { sql: 'ok' } });
  });

  it('answers /healthz 503 when the event loop was stuck', async () => {
    const server = await serve(createReadiness(), createHealth({ maxEventLoopDelayMs: 100 }));
    // The measurement starts with its first sample.
    await new Promise((r) => setTimeout(r, 50));
    blockFor(400);
    // The delay is recorded when the loop turns again.
    await new Promise((r) => setTimeout(r, 30));
    const res = await fetch(`http://127.0.0.1:${server.port}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'stuck', healthy: false });
  });

  it('serves /metrics in the Prometheus text format and closes idempotently', async () => {
    const server = await serve();
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await res.text()).toContain('# TYPE process_cpu_user_seconds_total counter');
    await server.close();
    await server.close();
  });

  it('listens on the address it is given only: on 127.0.0.1, another loopback address is refused', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const server = createOpsServer({
      port: 0,
      host: '127.0.0.1',
      health: createHealth(),
      readiness: createReadiness(),
      metrics: createMetrics(),
      logger,
    });
    open.push(server);
    await server.start();
    expect((await fetch(`http://127.0.0.1:${server.port}/metrics`)).status).toBe(200);
    await expect(fetch(`http://127.0.0.2:${server.port}/metrics`)).rejects.toMatchObject({
      cause: { code: 'ECONNREFUSED' },
    });
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ host: '127.0.0.1', port: server.port });
  });

  it('fails to start, saying why, when its port is taken', async () => {
    const first = await serve();
    const second = createOpsServer({
      port: first.port,
      host: '127.0.0.1',
      health: createHealth(),
      readiness: createReadiness(),
      metrics: createMetrics(),
      logger: silent,
    });
    await expect(second.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
