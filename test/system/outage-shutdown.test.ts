import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { useOutageStack } from '../helpers/outage-scenario.ts';
import {
  appliedCount,
  createTestQueue,
  fastRetries,
  fixtureHandlersEnv,
  inspectRetryQueue,
  liveJobs,
  publishValidEvents,
} from '../helpers/retry-fixture.ts';
import { startWorkerProcess } from '../helpers/worker-process.ts';
import { sendFault } from '../stand-ins/fault-control.ts';
import { startRedisServer } from '../stand-ins/redis-server.ts';

// A replica stopped while the database is down (a deployment or KEDA scaling in during an outage):
// the messages it holds for the database must not wait out the grace period to be abandoned, each
// abandon a delivery spent. Its first shutdown step hands them to the retry tier instead, while
// Service Bus and Redis are there, and the next replica applies them once the database is back.

const stack = useOutageStack('orders-outage-shutdown');

describe('a replica stopped during a database outage', () => {
  it('hands the messages it holds to the retry tier at once, and the next replica applies them all once', async () => {
    const system = stack.system();
    const burst = 100; // below the credit window: the replica holds every one
    const graceMs = 10_000;
    const outageMs = 15_000;
    const redis = await startRedisServer();
    stack.onCleanup(() => redis.close());
    const queue = createTestQueue(system, { lockDurationMs: 30_000, maxDeliveryCount: 10 });
    const env = {
      ...system.stack.env('worker'),
      ...fixtureHandlersEnv,
      ...fastRetries,
      KEY_VAULT_SECRETS: '',
      SERVICEBUS_QUEUE: queue,
      REDIS_URL: redis.url,
      REDIS_AUTH: 'none',
      SHUTDOWN_GRACE_MS: String(graceMs),
      BREAKER_PROBE_MAX_MS: '2000',
    };
    const jobs = inspectRetryQueue(redis.url);
    stack.onCleanup(() => jobs.close());
    const publisher = system.publisher();
    stack.onCleanup(() => publisher.close());
    const counts = () => system.stack.serviceBus.counts(queue);

    const first = await startWorkerProcess(env);
    stack.onCleanup(async () => {
      first.child.kill('SIGKILL');
      await first.exited;
    });
    const outageStart = Date.now();
    await sendFault(system.stack.file.control, {
      service: 'sql',
      seconds: outageMs / 1000,
      share: 1,
      errorNumber: 40613,
    });
    const ids = await publishValidEvents(publisher, queue, burst);
    // Open, and every message received and held, its lock kept.
    await expect.poll(() => counts().locked, { timeout: 15_000, interval: 100 }).toBe(burst);
    await expect
      .poll(() => first.output().includes('database unavailable: intake paused'), { timeout: 10_000 })
      .toBe(true);

    const stopAt = Date.now();
    first.child.kill('SIGTERM');
    const code = await first.exited;
    const stoppedInMs = Date.now() - stopAt;
    expect(code).toBe(0);
    // Not the grace period: the held messages went at once.
    expect(stoppedInMs, `stopped ${stoppedInMs} ms after SIGTERM`).toBeLessThan(graceMs / 2);
    expect(Date.now() - outageStart, 'the outage outlasted the first replica').toBeLessThan(outageMs);
    expect(counts()).toMatchObject({ active: 0, locked: 0, deferred: burst, deadLettered: 0 });
    expect(system.stack.serviceBus.deferrals(queue)).toBe(burst);
    expect(await liveJobs(jobs.queue)).toBe(burst);

    // The next replica, once the database is back.
    await sleep(Math.max(0, outageStart + outageMs - Date.now()));
    const second = await startWorkerProcess(env);
    stack.onCleanup(async () => {
      second.child.kill('SIGTERM');
      await second.exited;
    });
    await expect
      .poll(() => counts(), { timeout: 30_000, interval: 250 })
      .toMatchObject({ active: 0, locked: 0, deferred: 0, scheduled: 0 });
    expect(system.stack.serviceBus.deadLetters(queue)).toEqual([]);
    expect(await appliedCount(system, ids)).toBe(burst);
    const completions = system.stack.serviceBus.completions(queue);
    expect(completions).toHaveLength(burst);
    // Delivered once before the outage's hold and once by its retry job: no abandon spent a delivery.
    expect(completions.every((c) => c.deliveries === 2)).toBe(true);
    await expect.poll(() => liveJobs(jobs.queue), { timeout: 10_000 }).toBe(0);
  }, 120_000);
});
