import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExposition } from '../../scripts/lib/prometheus-text.ts';
import type { CloudEvent } from '../../src/cloudevents/cloud-event.ts';
import type { PublishItem } from '../../src/cloudevents/envelope.ts';
import {
  expectedReason,
  generatePublishItems,
  type InvalidKind,
} from '../../src/cloudevents/sample-events.ts';
import { metricNames } from '../../src/metrics-registry.ts';
import { publishEvents } from '../../src/servicebus/publisher.ts';
import { parcelRegisteredType, parcels } from '../fixtures/parcels/events.ts';
import {
  appliedCount,
  fastRetries,
  fixtureHandlersEnv,
  grantPublisherOnNamespace,
  inspectRetryQueue,
  liveJobs,
} from '../helpers/retry-fixture.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';
import { spawnWorkerProcess, startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.ts';
import { type RedisServer, startRedisServer } from '../stand-ins/redis-server.ts';

// Three worker processes share one local stack while everything it is made of misbehaves: a share
// of SQL statements fail transiently, Service Bus connections drop, the identity endpoint answers
// 500, Redis is killed (restarted empty) and flushed, and one worker is SIGKILLed and restarted.
// At the end every valid event's effect is there exactly once and every invalid one is
// dead-lettered with its reason; nothing is left in Service Bus or in the retry queue.
const valid = 5_000;
const invalid = 50;
const seed = Number(process.env.FAULT_TEST_SEED ?? Date.now() % 2_147_483_647);

/** mulberry32: the test's own choices (order of events, when each fault starts) follow the seed. */
function random(state: number): () => number {
  let a = state;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

let system: SystemStack;
let redis: RedisServer;
let queue: string;
const workers: WorkerProcess[] = [];
let workerEnv: Record<string, string>;

beforeAll(async () => {
  console.log(`fault test seed ${seed} (FAULT_TEST_SEED=${seed} repeats its choices)`);
  system = await startSystemStack({ queue: 'orders-faults-base', lockDurationMs: 3_000 });
  grantPublisherOnNamespace(system);
  // A budget that a kill, a drop and a few transient failures of one message fit in.
  queue = 'orders-faults';
  system.stack.serviceBus.createQueue(queue, {
    lockDurationMs: 3_000,
    maxDeliveryCount: 20,
    duplicateDetectionWindowMs: 600_000,
  });
  redis = await startRedisServer();
  workerEnv = {
    ...system.stack.env('worker'),
    ...fixtureHandlersEnv,
    ...fastRetries,
    SERVICEBUS_QUEUE: queue,
    SERVICEBUS_MAX_DELIVERY_COUNT: '20',
    RETRY_MAX_ATTEMPTS: '15',
    RETRY_RECONCILE_MS: '1000',
    SERVICEBUS_CONCURRENCY: '64',
    REDIS_URL: redis.url,
  };
  for (let i = 0; i < 3; i++) workers.push(await startWorkerProcess(workerEnv));
}, 120_000);

afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
  await redis?.close();
  await system?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('three workers on one stack under faults', () => {
  it('applies every valid event once and dead-letters every invalid one, whatever fails meanwhile', async () => {
    const rand = random(seed);
    const broken = new Map<string, InvalidKind>();
    const items = [
      ...generatePublishItems({
        count: valid + invalid,
        types: [parcelRegisteredType],
        dataFor: (type, n) => parcels.example(type, n),
        schemas: parcels.schemas,
        invalidShare: invalid / (valid + invalid),
        onInvalid: (id, kind) => broken.set(id, kind),
      }),
    ];
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [items[i], items[j]] = [items[j] as PublishItem, items[i] as PublishItem];
    }
    const validIds = items.flatMap((item) =>
      'raw' in item || broken.has((item as CloudEvent).id) ? [] : [(item as CloudEvent).id],
    );
    // The id-mismatch kind is sent under another MessageId: the dead letter carries that one.
    const deadLetterId = (id: string) =>
      broken.get(id) === 'InvalidEnvelope:id-mismatch' ? `${id}-other` : id;
    const kindOf = (messageId: string) =>
      broken.get(messageId) ?? broken.get(messageId.replace(/-other$/, ''));
    expect(validIds).toHaveLength(valid);
    expect(broken.size).toBe(invalid);

    // A steady stream over about 20 s, so that every fault below meets traffic.
    const client = system.publisher();
    const sender = client.createSender(queue);
    const chunks = 20;
    const publishing = (async () => {
      for (let c = 0; c < chunks; c++) {
        const chunk = items.slice((c * items.length) / chunks, ((c + 1) * items.length) / chunks);
        const summary = await publishEvents(sender, chunk);
        expect(summary.failed).toBe(0);
        await sleep(1_000);
      }
      await sender.close();
      await client.close();
    })();

    const at = (ms: number) => sleep(ms + Math.floor(rand() * 500));
    const { sql, serviceBus, identity } = system.stack;
    await at(1_000);
    sql.faults.failStatementsUntil(/dbo\./, 40613, Date.now() + 15_000, 0.1);
    await at(2_000);
    const dropped = serviceBus.openConnections();
    serviceBus.dropConnections();
    await at(2_000);
    // The endpoint fails until the restarted worker has met it, however long the new process takes
    // to load on a busy machine, then a moment more: its start retries the first token.
    identity.failUntil(Date.now() + 120_000, { status: 500 });
    const victim = workers[2] as WorkerProcess;
    victim.child.kill('SIGKILL');
    await victim.exited;
    const restarting = spawnWorkerProcess(workerEnv);
    const metFailure = restarting
      .waitFor('identity endpoint not ready; retrying', 60_000)
      .finally(() => identity.failUntil(Date.now() + 2_000, { status: 500 }));
    await at(1_000);
    await redis.kill();
    await at(2_000);
    await redis.restart();
    await metFailure;
    await restarting.waitFor('"msg":"worker running"', 60_000);
    workers[2] = restarting;
    await at(2_000);
    const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    await admin.flushall();
    admin.disconnect();
    await publishing;

    const counts = () => serviceBus.counts(queue);
    await expect
      .poll(counts, { timeout: 150_000, interval: 1_000 })
      .toMatchObject({ active: 0, locked: 0, deferred: 0, scheduled: 0 });
    const dead = serviceBus.deadLetters(queue);
    const wrongReasons = dead
      .filter((d) => d.reason !== expectedReason(kindOf(d.messageId) ?? ('none' as InvalidKind)))
      .map((d) => `${d.messageId}: ${d.reason} ${d.description ?? ''}`);
    expect(wrongReasons, `seed ${seed}`).toEqual([]);
    expect(new Set(dead.map((d) => d.messageId))).toEqual(new Set([...broken.keys()].map(deadLetterId)));
    expect(await appliedCount(system, validIds), `seed ${seed}`).toBe(valid);
    const inbox = await system.sql.query('SELECT COUNT(*) AS n FROM dbo.Inbox');
    const parcelRows = await system.sql.query('SELECT COUNT(*) AS n FROM dbo.FixtureParcels');
    expect(Number(inbox.rows[0]?.n)).toBe(valid);
    expect(Number(parcelRows.rows[0]?.n)).toBe(valid);
    const completed = serviceBus.completedMessageIds(queue);
    expect(new Set(completed).size).toBe(valid);
    expect(completed.filter((id) => kindOf(id) !== undefined)).toEqual([]);

    // The faults did bite: transient failures went through the retry tier, the restarted worker
    // met the failing identity endpoint, and the drop cut every worker's connection.
    const scrapes = await Promise.all(
      workers.map(async (w) =>
        parseExposition(await (await fetch(`http://127.0.0.1:${w.httpPort()}/metrics`)).text()),
      ),
    );
    const total = (name: string) => scrapes.reduce((sum, m) => sum + m.sum(name), 0);
    expect(
      total(metricNames.deferred) + total(metricNames.abandoned),
      'retried or abandoned',
    ).toBeGreaterThan(0);
    const refused = identity.requests.filter(
      (r) => r.clientId === system.stack.file.identities.worker.clientId && r.status === 500,
    );
    expect(refused.length, 'token requests the identity endpoint answered 500').toBeGreaterThan(0);
    expect(dropped, 'Service Bus connections the drop cut').toBeGreaterThanOrEqual(3);

    const jobs = inspectRetryQueue(redis.url);
    try {
      await expect.poll(() => liveJobs(jobs.queue), { timeout: 15_000 }).toBe(0);
    } finally {
      await jobs.close();
    }
    for (const w of workers) w.child.kill('SIGTERM');
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0, 0]);
  }, 240_000);
});
