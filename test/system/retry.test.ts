import type { ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { delayBoundMs } from '../../src/retry/backoff.ts';
import type { RetryJobData } from '../../src/retry/job.ts';
import {
  appliedCount,
  breakerOff,
  createTestQueue,
  fastRetries,
  fixtureHandlersEnv,
  grantPublisherOnNamespace,
  inspectRetryQueue,
  publishValidEvents,
} from '../helpers/retry-fixture.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.ts';
import { type RedisServer, startRedisServer } from '../stand-ins/redis-server.ts';

// Worker processes as the platform runs them, on a stack whose Redis accepts only Entra tokens.
let system: SystemStack;
let publisher: ServiceBusClient;
const workers: WorkerProcess[] = [];
const redisServers: RedisServer[] = [];
const inspectors: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  system = await startSystemStack({ queue: 'orders-retry', redis: true, redisAuth: 'entra' });
  grantPublisherOnNamespace(system);
  publisher = system.publisher();
}, 60_000);

afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
  await publisher?.close();
  for (const i of inspectors) await i.close();
  for (const r of redisServers) await r.close();
  await system?.close();
});

const env = (extra: Record<string, string> = {}) => ({
  ...system.stack.env('worker'),
  ...breakerOff,
  ...fixtureHandlersEnv,
  ...fastRetries,
  KEY_VAULT_SECRETS: '',
  ...extra,
});
const start = async (extra?: Record<string, string>) => {
  const w = await startWorkerProcess(env(extra));
  workers.push(w);
  return w;
};
const stop = async (w: WorkerProcess) => {
  w.child.kill('SIGTERM');
  expect(await w.exited).toBe(0);
};
const failInbox = () => system.stack.sql.faults.failStatements(/dbo\.Inbox/, 40613, 1_000_000_000);
const counts = (queue: string) => system.stack.serviceBus.counts(queue);

describe('retries across worker processes', () => {
  it('two replicas on Entra-authenticated Redis: jobs one added run on the other, every effect once', async () => {
    expect(system.stack.env('worker').REDIS_AUTH).toBe('entra');
    const queue = system.stack.file.serviceBus.queue;
    const extra = { RETRY_BASE_DELAY_MS: '1500', RETRY_MAX_DELAY_MS: '1500' };
    const [a, b] = [await start(extra), await start(extra)];
    failInbox();
    const ids = await publishValidEvents(publisher, queue, 20);
    await expect.poll(() => counts(queue).deferred, { timeout: 30_000, interval: 100 }).toBe(20);
    // A leaves; the jobs it added fire on B, which receives A's deferred messages by sequence number.
    await stop(a as WorkerProcess);
    system.stack.sql.faults.clear();
    await expect
      .poll(() => counts(queue), { timeout: 30_000, interval: 200 })
      .toEqual({ active: 0, locked: 0, deferred: 0, scheduled: 0, deadLettered: 0 });
    expect(await appliedCount(system, ids)).toBe(20);
    expect([...system.stack.serviceBus.completedMessageIds(queue)].sort()).toEqual([...ids].sort());
    expect((b as WorkerProcess).output()).toContain('"msg":"retry worker started"');
    await stop(b as WorkerProcess);
  }, 90_000);

  it('SQL down for 30 s under a steady stream: nothing dead-lettered, all applied after, at the configured delays', async () => {
    const redis = await startRedisServer();
    redisServers.push(redis);
    const queue = createTestQueue(system, { maxDeliveryCount: 30 });
    const retry = { baseDelayMs: 1_000, factor: 2, maxDelayMs: 4_000 };
    const w = await start({
      SERVICEBUS_QUEUE: queue,
      REDIS_URL: redis.url,
      REDIS_AUTH: 'none',
      RETRY_BASE_DELAY_MS: String(retry.baseDelayMs),
      RETRY_FACTOR: String(retry.factor),
      RETRY_MAX_DELAY_MS: String(retry.maxDelayMs),
      RETRY_MAX_ATTEMPTS: '25',
      SERVICEBUS_MAX_DELIVERY_COUNT: '30',
    });
    const jobs = inspectRetryQueue(redis.url);
    inspectors.push(jobs);
    failInbox();
    const ids: string[] = [];
    const sampled: RetryJobData[] = [];
    const violations: string[] = [];
    // A second chain of jobs for one message would spend its attempt budget twice as fast.
    const twoJobs: string[] = [];
    const outageEnds = Date.now() + 30_000;
    while (Date.now() < outageEnds) {
      ids.push(...(await publishValidEvents(publisher, queue, 4)));
      const waiting = new Map<string, number>();
      for (const job of await jobs.queue.getDelayed()) {
        const data = job.data as RetryJobData;
        sampled.push(data);
        const other = waiting.get(data.sequenceNumber);
        if (other !== undefined)
          twoJobs.push(`message ${data.sequenceNumber}: attempts ${other} and ${data.attempt}`);
        waiting.set(data.sequenceNumber, data.attempt);
        if ((job.opts.delay ?? 0) > delayBoundMs(data.attempt, retry)) {
          violations.push(`${job.id}: delay ${job.opts.delay} over the bound of attempt ${data.attempt}`);
        }
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    // Throughout the outage nothing was completed and nothing given up on: all of it waits deferred.
    expect(system.stack.serviceBus.completedMessageIds(queue)).toHaveLength(0);
    const deadLetters = system.stack.serviceBus.deadLetters(queue);
    expect(deadLetters.map((m) => `${m.reason}: ${m.description}`)).toEqual([]);
    system.stack.sql.faults.clear();
    await expect
      .poll(() => counts(queue), { timeout: 30_000, interval: 250 })
      .toEqual({ active: 0, locked: 0, deferred: 0, scheduled: 0, deadLettered: 0 });
    expect(await appliedCount(system, ids)).toBe(ids.length);
    expect(violations).toEqual([]);
    expect(twoJobs).toEqual([]);
    // The first messages went through many delayed attempts, their delays growing up to the cap.
    expect(Math.max(...sampled.map((d) => d.attempt))).toBeGreaterThanOrEqual(5);
    await stop(w);
  }, 120_000);
});
