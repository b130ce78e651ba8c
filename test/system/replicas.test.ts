import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../src/cloudevents/cloud-event.ts';
import { sampleEvent } from '../../src/cloudevents/sample-events.ts';
import { publishEvents } from '../../src/servicebus/publisher.ts';
import type { SqlPool } from '../../src/sql/pool.ts';
import { exampleRegistered, parcelRegisteredType, statusEvent } from '../fixtures/parcels/events.ts';
import type { ParcelRegisteredData } from '../fixtures/parcels/registered.ts';
import { fixtureHandlersEnv } from '../helpers/retry-fixture.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.ts';
import type { LocalStack } from '../stand-ins/stack.ts';

// Two replicas share one queue, as KEDA scales them; one is killed mid-stream. Its locked
// messages come back after the lock duration and the other replica processes them. Whatever the
// killed one had committed but not completed is delivered again and must change nothing.
const parcels = 400;
let system: SystemStack;
let stack: LocalStack;
let sql: SqlPool;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  system = await startSystemStack({ queue: 'orders-replicas', lockDurationMs: 3_000 });
  ({ stack, sql } = system);
  // Small batches and a small credit window, so that the killed replica holds work in every state.
  const env = {
    ...stack.env('worker'),
    ...fixtureHandlersEnv,
    SERVICEBUS_CONCURRENCY: '16',
    BATCH_MAX_SIZE: '8',
    SHUTDOWN_GRACE_MS: '5000',
  };
  workers.push(await startWorkerProcess(env), await startWorkerProcess(env));
}, 90_000);

afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
  await system?.close();
});

/** Per parcel: registered, then status changes 1 to 3, sent in a shuffled order. */
function events(): { all: CloudEvent[]; finalStatus: Map<string, string>; labels: number } {
  const all: CloudEvent[] = [];
  const finalStatus = new Map<string, string>();
  let labels = 0;
  const statuses = ['in-transit', 'delivered', 'returned'] as const;
  for (let n = 0; n < parcels; n++) {
    const registered = exampleRegistered(n) as ParcelRegisteredData;
    labels += registered.labels.length;
    all.push(sampleEvent(parcelRegisteredType, registered));
    for (let version = 1; version <= 3; version++) {
      const status = statuses[(n + version) % 3] as (typeof statuses)[number];
      all.push(statusEvent(registered.parcelId, status, version));
      if (version === 3) finalStatus.set(registered.parcelId.toUpperCase(), status);
    }
  }
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [all[i], all[j]] = [all[j] as CloudEvent, all[i] as CloudEvent];
  }
  return { all, finalStatus, labels };
}

describe('two worker replicas, one of them killed mid-stream', () => {
  it('loses nothing and applies every event exactly once', async () => {
    const { all, finalStatus, labels } = events();
    const publisher = system.publisher();
    const summary = await publishEvents(publisher.createSender(stack.file.serviceBus.queue), all);
    await publisher.close();
    expect(summary.sent).toBe(all.length);

    const queue = stack.file.serviceBus.queue;
    await expect
      .poll(() => stack.serviceBus.completedMessageIds(queue).length, { timeout: 30_000 })
      .toBeGreaterThan(200);
    const [victim, survivor] = workers as [WorkerProcess, WorkerProcess];
    const lockedAtKill = stack.serviceBus.counts(queue).locked;
    victim.child.kill('SIGKILL');
    expect(await victim.exited).toBeNull();

    await expect
      .poll(() => stack.serviceBus.counts(queue), { timeout: 90_000, interval: 500 })
      .toEqual({ active: 0, locked: 0, deferred: 0, scheduled: 0, deadLettered: 0 });

    const count = async (table: string) =>
      Number((await sql.query(`SELECT COUNT(*) AS n FROM dbo.${table}`)).rows[0]?.n);
    expect(await count('Inbox')).toBe(all.length);
    expect(await count('FixtureParcels')).toBe(parcels);
    expect(await count('FixtureParcelLabels')).toBe(labels);
    const rows = await sql.query(
      'SELECT ParcelId, Status, StatusVersion, RegisteredAt FROM dbo.FixtureParcels',
    );
    for (const row of rows.rows) {
      expect(row.StatusVersion).toBe(3);
      expect(row.Status).toBe(finalStatus.get(String(row.ParcelId).toUpperCase()));
      expect(row.RegisteredAt).not.toBeNull();
    }
    expect(new Set(stack.serviceBus.completedMessageIds(queue)).size).toBe(all.length);
    expect(lockedAtKill, 'messages in flight when the replica was killed').toBeGreaterThan(0);

    survivor.child.kill('SIGTERM');
    expect(await survivor.exited).toBe(0);
  });
});
