import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Exposition, parseExposition } from '../../scripts/lib/prometheus-text.ts';
import { readStatus } from '../../scripts/lib/status-line.ts';
import { brokenMessage, sampleEvent } from '../../src/cloudevents/sample-events.ts';
import { metricNames } from '../../src/metrics-registry.ts';
import { publishEvents } from '../../src/servicebus/publisher.ts';
import { exampleRegistered, parcelRegisteredType, parcels } from '../fixtures/parcels/events.ts';
import { fixtureHandlersEnv } from '../helpers/retry-fixture.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';
import { spawnWorkerProcess, startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.ts';
import { type RedisServer, startRedisServer } from '../stand-ins/redis-server.ts';

// The ops endpoints as the platform calls them, on a worker process running against the stand-ins.
let system: SystemStack;
let worker: WorkerProcess;
let base: string;
// The running worker's own Redis, so that a test can kill it without touching anyone else's.
let redis: RedisServer;

const get = async (path: string, init?: RequestInit) => {
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', text };
};
const readyz = async () => {
  const r = await get('/readyz');
  const body = JSON.parse(r.text) as { ready: boolean; checks: Record<string, string> };
  return { status: r.status, ready: body.ready, checks: body.checks };
};
const scrape = async (): Promise<Exposition> => parseExposition((await get('/metrics')).text);

const publish = async (count: number, broken = 0): Promise<void> => {
  const client = system.publisher();
  const sender = client.createSender(system.stack.file.serviceBus.queue);
  const events = Array.from({ length: count }, (_, i) =>
    sampleEvent(parcelRegisteredType, exampleRegistered(i)),
  );
  const bad = Array.from({ length: broken }, (_, i) =>
    brokenMessage(
      sampleEvent(parcelRegisteredType, exampleRegistered(i)),
      'ValidationFailed',
      'structured',
      parcels.schemas.get(parcelRegisteredType),
    ),
  );
  const summary = await publishEvents(sender, [...events, ...bad]);
  await client.close();
  expect(summary).toMatchObject({ sent: count + broken, failed: 0 });
};

beforeAll(async () => {
  // A short lock, so that a slow write outlives it and the SDK has to renew it.
  system = await startSystemStack({ queue: 'orders-ops', lockDurationMs: 3_000 });
}, 60_000);

afterAll(async () => {
  if (worker && worker.child.exitCode === null) worker.child.kill('SIGKILL');
  await redis?.close();
  await system?.close();
});

describe('a worker that is starting', () => {
  it('is live and not ready while it waits for the identity endpoint, then ready once it runs', async () => {
    // The identity endpoint refuses for a while, as in a container's first seconds.
    system.stack.identity.failNext(4, { status: 503 });
    const starting = spawnWorkerProcess({
      ...system.stack.env('worker'),
      ...fixtureHandlersEnv,
      IDENTITY_STARTUP_TIMEOUT_MS: '30000',
    });
    try {
      await starting.waitFor('ops endpoints listening');
      base = `http://127.0.0.1:${starting.httpPort()}`;
      await starting.waitFor('identity endpoint not ready; retrying');
      expect((await get('/healthz')).status).toBe(200);
      const waiting = await readyz();
      expect(waiting).toMatchObject({ status: 503, ready: false, checks: { worker: 'starting' } });
      await starting.waitFor('"msg":"worker running"');
      await expect.poll(async () => (await readyz()).status, { timeout: 10_000, interval: 200 }).toBe(200);
    } finally {
      starting.child.kill('SIGTERM');
      await starting.exited;
    }
  });
});

describe('the ops endpoints of a running worker', () => {
  beforeAll(async () => {
    redis = await startRedisServer();
    worker = await startWorkerProcess({
      ...system.stack.env('worker'),
      ...fixtureHandlersEnv,
      REDIS_URL: redis.url,
      SHUTDOWN_GRACE_MS: '20000',
      // Short delayed retries, so that a retry shows in the metrics within the test.
      RETRY_IMMEDIATE_ATTEMPTS: '0',
      RETRY_BASE_DELAY_MS: '200',
      RETRY_MAX_DELAY_MS: '1000',
    });
    base = `http://127.0.0.1:${worker.httpPort()}`;
  }, 60_000);

  it('answers /healthz 200 with the event-loop delay it measured', async () => {
    const r = await get('/healthz');
    expect(r.status).toBe(200);
    expect(r.type).toContain('application/json');
    expect(JSON.parse(r.text)).toMatchObject({
      status: 'ok',
      healthy: true,
      eventLoopDelayMs: expect.any(Number),
    });
  });

  it('answers /readyz 200 naming every check it passed, once the receive link is open', async () => {
    // The link attaches just after start returns; the platform polls, and so does this test.
    await expect.poll(async () => (await readyz()).status, { timeout: 10_000, interval: 100 }).toBe(200);
    const r = await readyz();
    expect(r, JSON.stringify(r.checks)).toMatchObject({ status: 200, ready: true });
    expect(r.checks).toEqual({
      worker: 'ok',
      identity: 'ok',
      sql: 'ok',
      breaker: 'ok',
      redis: 'ok',
      servicebus: 'ok',
    });
  });

  it('answers an unknown path 404 and a POST 405', async () => {
    expect((await get('/nope')).status).toBe(404);
    expect((await get('/metrics', { method: 'POST' })).status).toBe(405);
  });

  it('serves every instrument with its type and help text, and Node process metrics', async () => {
    const r = await get('/metrics');
    expect(r.status).toBe(200);
    expect(r.type).toContain('text/plain');
    const m = parseExposition(r.text);
    const expected: Record<string, string> = {
      [metricNames.received]: 'counter',
      [metricNames.completed]: 'counter',
      [metricNames.deadLettered]: 'counter',
      [metricNames.abandoned]: 'counter',
      [metricNames.settleFailures]: 'counter',
      [metricNames.lockLosses]: 'counter',
      [metricNames.lockRenewedMessages]: 'counter',
      [metricNames.lockRenewalFailures]: 'counter',
      [metricNames.receiveErrors]: 'counter',
      [metricNames.receiverRestarts]: 'counter',
      [metricNames.inFlight]: 'gauge',
      [metricNames.batchSize]: 'histogram',
      [metricNames.sqlWriteDuration]: 'histogram',
      [metricNames.lag]: 'histogram',
      [metricNames.tokenRefreshes]: 'counter',
      [metricNames.tokenFailures]: 'counter',
      [metricNames.deferred]: 'counter',
      [metricNames.retried]: 'counter',
      [metricNames.retryQueueDepth]: 'gauge',
      process_cpu_user_seconds_total: 'counter',
      process_resident_memory_bytes: 'gauge',
      nodejs_eventloop_lag_seconds: 'gauge',
    };
    for (const [name, type] of Object.entries(expected)) {
      expect(m.types.get(name), name).toBe(type);
      expect(m.help.get(name)?.length, `${name} help`).toBeGreaterThan(10);
    }
    // The start fetched tokens for Service Bus and SQL through the shared credential.
    expect(m.sum(metricNames.tokenRefreshes)).toBeGreaterThanOrEqual(2);
  });

  it('moves the counters and histograms by what was published', async () => {
    const before = await scrape();
    await publish(40, 3);
    await expect
      .poll(async () => (await scrape()).sum(metricNames.completed) - before.sum(metricNames.completed), {
        timeout: 30_000,
        interval: 200,
      })
      .toBe(40);
    await expect
      .poll(async () => (await scrape()).sum(metricNames.deadLettered, { reason: 'ValidationFailed' }), {
        timeout: 10_000,
        interval: 200,
      })
      .toBe(before.sum(metricNames.deadLettered, { reason: 'ValidationFailed' }) + 3);
    const after = await scrape();
    const moved = (name: string) => after.sum(name) - before.sum(name);
    expect(moved(metricNames.received)).toBe(43);
    expect(moved(`${metricNames.lag}_count`)).toBe(40);
    expect(moved(`${metricNames.batchSize}_sum`)).toBe(40);
    expect(moved(`${metricNames.batchSize}_count`)).toBeGreaterThan(0);
    expect(after.sum(`${metricNames.sqlWriteDuration}_count`, { result: 'committed' })).toBeGreaterThan(
      before.sum(`${metricNames.sqlWriteDuration}_count`, { result: 'committed' }),
    );
    expect(moved(metricNames.abandoned)).toBe(0);
    expect(after.sum(metricNames.inFlight)).toBe(0);
    // The steady state is quiet at info: per-message lines are debug, dead letters are errors.
    const perMessageInfo = worker
      .output()
      .split('\n')
      .filter((l) => l.includes('"level":30') && l.includes('"messageId"'));
    expect(perMessageInfo).toEqual([]);
    expect(
      worker
        .output()
        .split('\n')
        .filter((l) => l.includes('"msg":"dead-lettered"')),
    ).toHaveLength(3);
  });

  it('gives the npm start status line the figures /metrics shows', async () => {
    const m = await scrape();
    const status = await readStatus(`${base}/metrics`);
    expect(status).toMatchObject({
      received: m.sum(metricNames.received),
      completed: m.sum(metricNames.completed),
      deadLettered: m.sum(metricNames.deadLettered),
      retrying: m.sum(metricNames.retryQueueDepth),
      retried: m.sum(metricNames.abandoned) + m.sum(metricNames.deferred),
      lagCount: m.sum(`${metricNames.lag}_count`),
    });
    expect(status.completed).toBeGreaterThanOrEqual(40);
  });

  it('counts a transient failure as deferred, then as a retry that completed it', async () => {
    const before = await scrape();
    // The first write of the message fails (no immediate retries here): it is deferred with a job.
    system.stack.sql.faults.failStatements(/dbo\.Inbox/, 40613, 1);
    await publish(1);
    await expect
      .poll(async () => (await scrape()).sum(metricNames.completed) - before.sum(metricNames.completed), {
        timeout: 30_000,
        interval: 200,
      })
      .toBe(1);
    const after = await scrape();
    expect(after.sum(metricNames.deferred) - before.sum(metricNames.deferred)).toBe(1);
    expect(
      after.sum(metricNames.retried, { result: 'complete' }) -
        before.sum(metricNames.retried, { result: 'complete' }),
    ).toBe(1);
    await expect
      .poll(async () => (await scrape()).sum(metricNames.retryQueueDepth), { timeout: 10_000 })
      .toBe(0);
  });

  it('is not ready while Redis is down, and ready again once it is back', async () => {
    await redis.kill();
    await expect.poll(async () => (await readyz()).status, { timeout: 20_000, interval: 250 }).toBe(503);
    const down = await readyz();
    expect(down.checks.redis).not.toBe('ok');
    expect(down.checks.sql).toBe('ok');
    await redis.restart();
    await expect.poll(async () => (await readyz()).status, { timeout: 20_000, interval: 250 }).toBe(200);
    expect((await get('/healthz')).status).toBe(200);
  });

  it('is not ready while SQL refuses logins, and ready again once it accepts them', async () => {
    const faults = system.stack.sql.faults;
    faults.failLogins(40613, 10_000);
    faults.dropConnections();
    await expect.poll(async () => (await readyz()).status, { timeout: 20_000, interval: 250 }).toBe(503);
    const down = await readyz();
    expect(down.ready).toBe(false);
    expect(down.checks.sql).toMatch(/40613|not currently available|login/i);
    expect(down.checks.servicebus).toBe('ok');
    faults.clear();
    await expect.poll(async () => (await readyz()).status, { timeout: 20_000, interval: 250 }).toBe(200);
    // Liveness never depended on SQL: a restart would not bring the database back.
    expect((await get('/healthz')).status).toBe(200);
  });

  it('names the breaker in /readyz and its gauges while the database is down, and counts its moves', async () => {
    const before = (await scrape()).sum(metricNames.breakerTransitions, { to: 'closed' });
    const faults = system.stack.sql.faults;
    // What `npm run fault -- sql` does: every login and every statement refused, as in a failover.
    faults.failLogins(40613, 1_000_000);
    faults.failStatements(/./, 40613, 1_000_000);
    faults.dropConnections();
    await publish(20);
    await expect
      .poll(async () => (await readyz()).checks.breaker, { timeout: 20_000, interval: 250 })
      .toMatch(/^(open|half-open): database unavailable for \d+ s, \d+ messages held$/);
    const open = await scrape();
    expect(open.sum(metricNames.breakerState, { state: 'closed' })).toBe(0);
    expect(
      open.sum(metricNames.breakerState, { state: 'open' }) +
        open.sum(metricNames.breakerState, { state: 'half-open' }),
    ).toBe(1);
    expect(open.sum(metricNames.breakerOpenSeconds)).toBeGreaterThan(0);
    faults.clear();
    await expect
      .poll(async () => (await readyz()).checks.breaker, { timeout: 40_000, interval: 250 })
      .toBe('ok');
    // Whatever waited meanwhile is applied before the next test counts.
    const queue = system.stack.file.serviceBus.queue;
    await expect
      .poll(() => system.stack.serviceBus.counts(queue), { timeout: 30_000, interval: 250 })
      .toMatchObject({ active: 0, locked: 0, deferred: 0 });
    const closed = await scrape();
    expect(closed.sum(metricNames.breakerState, { state: 'closed' })).toBe(1);
    expect(closed.sum(metricNames.breakerOpenSeconds)).toBe(0);
    expect(closed.sum(metricNames.breakerTransitions, { to: 'closed' })).toBe(before + 1);
    expect(closed.sum(metricNames.breakerTransitions, { to: 'open' })).toBeGreaterThanOrEqual(1);
  });

  it('counts the messages whose lock was renewed during a slow write', async () => {
    const before = await scrape();
    system.stack.sql.faults.setLatency(500);
    try {
      await publish(2);
      await expect
        .poll(async () => (await scrape()).sum(metricNames.completed) - before.sum(metricNames.completed), {
          timeout: 30_000,
          interval: 250,
        })
        .toBe(2);
    } finally {
      system.stack.sql.faults.clear();
    }
    const after = await scrape();
    expect(after.sum(metricNames.lockRenewedMessages) - before.sum(metricNames.lockRenewedMessages)).toBe(2);
    expect(after.sum(metricNames.lockLosses)).toBe(0);
  });

  it('is not ready while draining, still live, and exits cleanly', async () => {
    // Slow SQL keeps messages in flight, so the drain lasts long enough to watch.
    system.stack.sql.faults.setLatency(1_500);
    await publish(5);
    await expect
      .poll(async () => (await scrape()).sum(metricNames.inFlight), { timeout: 20_000 })
      .toBeGreaterThan(0);
    worker.child.kill('SIGTERM');
    const draining = await readyz();
    expect(draining).toMatchObject({ status: 503, ready: false });
    expect(draining.checks.shutdown).toBe('draining');
    expect((await get('/healthz')).status).toBe(200);
    system.stack.sql.faults.clear();
    expect(await worker.exited).toBe(0);
  });
});
