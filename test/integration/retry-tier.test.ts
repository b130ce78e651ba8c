import { randomUUID } from 'node:crypto';
import type { ServiceBusClient } from '@azure/service-bus';
import { type Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RetryJobData, retryJobId, retryQueueName, retryQueuePrefix } from '../../src/retry/job.ts';
import { createRetryQueue } from '../../src/retry/retry-queue.ts';
import { exampleRegistered, parcelRegisteredType } from '../fixtures/parcels/events.ts';
import {
  appliedCount,
  breakerOff,
  createTestQueue,
  grantPublisherOnNamespace,
  inspectRetryQueue,
  liveJobs,
  publishValidEvents,
  startTestWorker,
  testLogger,
} from '../helpers/retry-fixture.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';
import { startRedisServer } from '../stand-ins/redis-server.ts';

// The retry tier as the worker runs it (src/worker.ts in this process) against the stand-ins and
// a redis-server of each test's own: faults go into the real SQL stand-in and the real Redis.
let system: SystemStack;
let publisher: ServiceBusClient;
const opened: { close(): Promise<unknown> }[] = [];

beforeAll(async () => {
  system = await startSystemStack({ queue: 'retry-base' });
  grantPublisherOnNamespace(system);
  publisher = system.publisher();
}, 60_000);

afterEach(async () => {
  system.stack.sql.faults.clear();
  for (const o of opened.splice(0).reverse()) await o.close();
});

afterAll(async () => {
  await publisher?.close();
  await system?.close();
});

const setup = async (
  env: Record<string, string> = {},
  maxDeliveryCount?: number,
  lockDurationMs?: number,
) => {
  const redis = await startRedisServer();
  opened.push(redis);
  const queue = createTestQueue(system, { maxDeliveryCount, lockDurationMs });
  // The retry tier's own behaviour: failures here last on purpose, with the breaker out of the way.
  const worker = await startTestWorker(system, queue, redis.url, { ...breakerOff, ...env });
  opened.push(worker);
  const jobs = inspectRetryQueue(redis.url);
  opened.push(jobs);
  return { redis, queue, worker, jobs: jobs.queue };
};

const counts = (queue: string) => system.stack.serviceBus.counts(queue);
const failInbox = (count: number) => system.stack.sql.faults.failStatements(/dbo\.Inbox/, 40613, count);
const poll = { timeout: 30_000, interval: 100 };

/** Every id applied once, completed once, and nothing left in Service Bus or in the retry queue. */
const expectAllAppliedOnce = async (s: { queue: string; jobs: Queue }, ids: string[]) => {
  await expect.poll(() => counts(s.queue), poll).toMatchObject({ active: 0, locked: 0, deferred: 0 });
  expect(counts(s.queue).deadLettered).toBe(0);
  expect(await appliedCount(system, ids)).toBe(ids.length);
  const completed = system.stack.serviceBus.completedMessageIds(s.queue);
  expect([...completed].sort()).toEqual([...ids].sort());
  await expect.poll(() => liveJobs(s.jobs), poll).toBe(0);
};

describe('the retry tier', () => {
  it('refuses to start on a Redis that evicts keys, naming maxmemory-policy', async () => {
    const redis = await startRedisServer(['--maxmemory-policy', 'allkeys-lru']);
    opened.push(redis);
    const queue = createTestQueue(system);
    await expect(startTestWorker(system, queue, redis.url)).rejects.toThrow(
      /maxmemory-policy allkeys-lru: BullMQ needs maxmemory-policy noeviction/,
    );
  });

  it('applies a message once after K transient failures, leaving no job and no deferred message', async () => {
    const s = await setup();
    // 1 first write + 2 immediate retries fail, then the first delayed attempt fails too.
    failInbox(4);
    const ids = await publishValidEvents(publisher, s.queue, 1);
    await expectAllAppliedOnce(s, ids);
    expect(s.worker.consumer.stats().deferred).toBe(1);
  });

  it('retries a binary-mode event whose time is an AMQP timestamp, as a foreign publisher sends it', async () => {
    const s = await setup();
    // The first write and both immediate retries fail: the delayed attempt receives the message again.
    failInbox(3);
    const id = `ev-${randomUUID()}`;
    const sender = publisher.createSender(s.queue);
    await sender.sendMessages({
      messageId: id,
      body: exampleRegistered(7),
      contentType: 'application/json',
      applicationProperties: {
        'cloudEvents:specversion': '1.0',
        'cloudEvents:id': id,
        'cloudEvents:source': '/tests/foreign',
        'cloudEvents:type': parcelRegisteredType,
        'cloudEvents:time': new Date('2026-11-30T12:00:00Z'),
      },
    });
    await sender.close();
    await expect.poll(() => s.worker.consumer.stats().deferred, poll).toBe(1);
    await expect.poll(() => counts(s.queue), poll).toMatchObject({ active: 0, locked: 0, deferred: 0 });
    expect(system.stack.serviceBus.deadLetters(s.queue)).toEqual([]);
    await expectAllAppliedOnce(s, [id]);
  });

  it('dead-letters at once a message whose retry meets a permanent error', async () => {
    const s = await setup();
    // The first write and both immediate retries fail at the inbox read, before the parcels insert;
    // the delayed attempt gets past it and meets the permanent error. Both are set before the
    // message exists, so the retry cannot run before its fault is in place.
    failInbox(3);
    system.stack.sql.faults.failStatements(/INSERT INTO dbo\.FixtureParcels/, 2627, 1);
    const ids = await publishValidEvents(publisher, s.queue, 1);
    await expect.poll(() => counts(s.queue).deadLettered, poll).toBe(1);
    expect(s.worker.consumer.stats().deferred).toBe(1);
    const [dead] = system.stack.serviceBus.deadLetters(s.queue);
    expect(dead?.messageId).toBe(ids[0]);
    expect(dead?.reason).toBe('PermanentSqlError');
    expect(dead?.description).toContain('2627');
    expect(await appliedCount(system, ids)).toBe(0);
  });

  it('dead-letters as RetriesExhausted with the last error once the attempts are spent', async () => {
    const s = await setup({ RETRY_MAX_ATTEMPTS: '2' });
    failInbox(1_000);
    const ids = await publishValidEvents(publisher, s.queue, 1);
    await expect.poll(() => counts(s.queue).deadLettered, poll).toBe(1);
    const [dead] = system.stack.serviceBus.deadLetters(s.queue);
    expect(dead?.messageId).toBe(ids[0]);
    expect(dead?.reason).toBe('RetriesExhausted');
    expect(dead?.description).toMatch(/^2 delayed attempts spent .*last error Unavailable: .+/);
    expect(counts(s.queue)).toMatchObject({ active: 0, locked: 0, deferred: 0 });
  });

  it('re-adds the jobs of deferred messages after FLUSHALL, and applies each once', async () => {
    // Delays long enough that the messages are still deferred when Redis loses everything.
    const s = await setup({ RETRY_BASE_DELAY_MS: '3000', RETRY_MAX_DELAY_MS: '3000' });
    failInbox(1_000);
    const ids = await publishValidEvents(publisher, s.queue, 5);
    await expect.poll(() => counts(s.queue).deferred, poll).toBe(5);
    const admin = new Redis(s.redis.url);
    await admin.flushall();
    expect(await liveJobs(s.jobs)).toBe(0);
    admin.disconnect();
    system.stack.sql.faults.clear();
    await expectAllAppliedOnce(s, ids);
  }, 60_000);

  it('loses nothing when Redis is killed mid-retry and restarted empty; the retry worker resumes', async () => {
    const s = await setup({ RETRY_BASE_DELAY_MS: '2000', RETRY_MAX_DELAY_MS: '2000' });
    failInbox(1_000);
    const ids = await publishValidEvents(publisher, s.queue, 5);
    await expect.poll(() => counts(s.queue).deferred, poll).toBe(5);
    await s.redis.kill();
    system.stack.sql.faults.clear();
    await new Promise((r) => setTimeout(r, 1_000));
    await s.redis.restart();
    await expectAllAppliedOnce(s, ids);
    // Jobs made after the reconnect run too: the worker did not stop with the old connection.
    failInbox(4);
    const more = await publishValidEvents(publisher, s.queue, 1);
    await expectAllAppliedOnce(s, [...ids, ...more]);
    expect(s.worker.consumer.stats().deferred).toBeGreaterThanOrEqual(6);
  }, 60_000);

  it('abandons while Redis is down, then applies the message once Redis is back', async () => {
    // Every abandon is a delivery and spends budget: room for the redeliveries while Redis restarts.
    const s = await setup({ RETRY_MAX_ATTEMPTS: '45', SERVICEBUS_MAX_DELIVERY_COUNT: '50' }, 50);
    await s.redis.kill();
    failInbox(1_000);
    const ids = await publishValidEvents(publisher, s.queue, 1);
    await expect.poll(() => s.worker.consumer.stats().abandoned, poll).toBeGreaterThanOrEqual(1);
    expect(counts(s.queue).deferred).toBe(0);
    await s.redis.restart();
    await expect.poll(() => counts(s.queue).deferred, poll).toBe(1);
    system.stack.sql.faults.clear();
    await expectAllAppliedOnce(s, ids);
  }, 60_000);

  it('tells a dropped second add of a retained job id from a real add, and replaces a finished job', async () => {
    const redis = await startRedisServer();
    opened.push(redis);
    const connection = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    const queue = createRetryQueue({ connection, logger: testLogger });
    opened.push({
      async close() {
        await queue.close();
        connection.disconnect();
      },
    });
    const data = {
      entity: 'orders',
      sequenceNumber: '7',
      messageId: 'm-7',
      attempt: 1,
      lastError: { code: 'Unavailable', message: 'x' },
    };
    expect(await queue.add(data, 60_000)).toBe('added');
    expect(await queue.add(data, 60_000)).toBe('duplicate');
    expect(await queue.queue.getJobCounts('delayed')).toEqual({ delayed: 1 });
    // A job kept after it completed: BullMQ would swallow a new add under its id.
    const finished = { ...data, sequenceNumber: '8' };
    await queue.queue.add('retry', finished, { jobId: retryJobId(finished) });
    const workerConnection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const bull = new Worker(retryQueueName, async () => undefined, {
      connection: workerConnection,
      prefix: retryQueuePrefix,
    });
    await expect.poll(() => queue.queue.getJobState(retryJobId(finished)), poll).toBe('completed');
    await bull.close();
    workerConnection.disconnect();
    expect(await queue.isLive(finished)).toBe(false);
    expect(await queue.add(finished, 60_000)).toBe('added');
    expect(await queue.queue.getJobState(retryJobId(finished))).toBe('delayed');
  });

  it('keeps the effect single when a retry job runs twice', async () => {
    const s = await setup();
    failInbox(3);
    // The retry's write commits, its completion is lost: the lock lapses, the message stays
    // deferred, the reconciler adds the attempt's job again and that second run finds the inbox row.
    // Set before the message exists (only a completion fails), so the retry cannot outrun it.
    system.stack.serviceBus.failSettlements(1, 'lock-lost', 'complete');
    const ids = await publishValidEvents(publisher, s.queue, 1);
    await expectAllAppliedOnce(s, ids);
    expect(await appliedCount(system, ids)).toBe(1);
    // The completion did fail once: the job ran a second time and completed the message then.
    expect(system.stack.serviceBus.settlementFailuresLeft()).toBe(0);
  }, 60_000);

  it('leaves a message to its latest attempt: a stale job of an earlier one spends none of its deliveries', async () => {
    // A bound of 10 min: the live job waits (full jitter below it) while the stale one runs.
    const s = await setup({ RETRY_BASE_DELAY_MS: '600000', RETRY_MAX_DELAY_MS: '600000' });
    failInbox(1_000_000);
    const [id] = await publishValidEvents(publisher, s.queue, 1);
    await expect.poll(() => counts(s.queue).deferred, poll).toBe(1);
    const [deferred] = system.stack.serviceBus.messages(s.queue);
    const attempt = Number(deferred?.applicationProperties.RetryAttempt);
    const [job] = await s.jobs.getDelayed();
    expect(job?.data.attempt).toBe(attempt);
    await job?.changeDelay(600_000); // and certainly waits
    // The job of the attempt before, as a second chain would have it (a reconciler that added it late).
    const connection = new Redis(s.redis.url);
    const queue = createRetryQueue({ connection, logger: testLogger });
    opened.push({
      async close() {
        await queue.close();
        connection.disconnect();
      },
    });
    const stale = { ...(job?.data as RetryJobData), attempt: attempt - 1 };
    expect(await queue.add(stale, 0)).toBe('added');
    await expect.poll(() => s.jobs.getJobState(retryJobId(stale)), poll).toBe('unknown');
    const [after] = system.stack.serviceBus.messages(s.queue);
    expect(after).toMatchObject({ state: 'deferred', deliveryCount: deferred?.deliveryCount });
    expect(after?.applicationProperties.RetryAttempt).toBe(attempt);
    // The live job still runs the message, once SQL is back.
    system.stack.sql.faults.clear();
    await job?.promote();
    await expectAllAppliedOnce(s, [id as string]);
  });

  it('on close lets a running retry job finish within the grace period, then closes every Redis connection', async () => {
    // A lock of 1 s: the attempt below outlasts it, so it settles only if its lock is renewed.
    const s = await setup({}, undefined, 1_000);
    const admin = new Redis(s.redis.url);
    opened.push({ close: async () => admin.disconnect() });
    failInbox(3);
    const ids = await publishValidEvents(publisher, s.queue, 1);
    await expect.poll(() => counts(s.queue).deferred, poll).toBe(1);
    // The retry's write is slow (each SQL request 200 ms): it still runs when the worker is told to stop.
    system.stack.sql.faults.setLatency(200);
    await expect.poll(() => s.jobs.getActiveCount(), { ...poll, interval: 10 }).toBe(1);
    const started = Date.now();
    await s.worker.close();
    const closedIn = Date.now() - started;
    expect(closedIn).toBeLessThan(5_000); // SHUTDOWN_GRACE_MS of fastRetries
    expect(closedIn).toBeGreaterThan(1_000); // it waited for the attempt, which outlasted the lock
    system.stack.sql.faults.setLatency(0);
    // It finished: completed, not left to a lapsed lock.
    expect(system.stack.serviceBus.completedMessageIds(s.queue)).toEqual(ids);
    expect(counts(s.queue)).toMatchObject({ active: 0, locked: 0, deferred: 0 });
    expect(await appliedCount(system, ids)).toBe(1);
    // Left: this test's own connections (the job inspector and this one), none of the worker's.
    await s.jobs.close();
    const clients = String(await admin.client('LIST'))
      .trim()
      .split('\n');
    expect(clients).toHaveLength(2);
  });
});
