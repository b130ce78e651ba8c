import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectedReason,
  generatePublishItems,
  type InvalidKind,
} from '../../src/cloudevents/sample-events.ts';
import { publishEvents } from '../../src/servicebus/publisher.ts';
import type { SqlPool } from '../../src/sql/pool.ts';
import { parcelRegisteredType, parcels } from '../fixtures/parcels/events.ts';
import { fixtureHandlersEnv } from '../helpers/retry-fixture.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.ts';
import type { LocalStack } from '../stand-ins/stack.ts';

// The whole pipeline as `npm start` runs it: the stand-ins in this process, migrations as the
// operator identity, and the worker as its own process with the worker identity's environment.
let system: SystemStack;
let stack: LocalStack;
let worker: WorkerProcess;
let sql: SqlPool;

beforeAll(async () => {
  system = await startSystemStack({ queue: 'orders-e2e' });
  ({ stack, sql } = system);

  worker = await startWorkerProcess({
    ...stack.env('worker'),
    ...fixtureHandlersEnv,
    SHUTDOWN_GRACE_MS: '10000',
  });
}, 60_000);

afterAll(async () => {
  if (worker && worker.child.exitCode === null) worker.child.kill('SIGKILL');
  await system?.close();
});

describe('the pipeline end to end on the local stand-ins', () => {
  it('writes 1,000 valid events and dead-letters 50 invalid ones with their reasons', async () => {
    const publisher = system.publisher();
    const sender = publisher.createSender(stack.file.serviceBus.queue);
    const invalid = new Map<string, InvalidKind>();
    const summary = await publishEvents(
      sender,
      generatePublishItems({
        count: 1_050,
        types: [parcelRegisteredType],
        dataFor: (type, n) => parcels.example(type, n),
        schemas: parcels.schemas,
        invalidShare: 50 / 1_050,
        onInvalid: (id, kind) => invalid.set(id, kind),
      }),
    );
    await publisher.close();
    expect(summary).toMatchObject({ sent: 1_050, failed: 0 });
    expect(invalid.size).toBe(50);

    const queue = stack.file.serviceBus.queue;
    await expect
      .poll(() => stack.serviceBus.counts(queue), { timeout: 60_000, interval: 250 })
      .toEqual({ active: 0, locked: 0, deferred: 0, scheduled: 0, deadLettered: 50 });

    const parcelRows = await sql.query('SELECT COUNT(*) AS n FROM dbo.FixtureParcels');
    const inbox = await sql.query('SELECT COUNT(*) AS n FROM dbo.Inbox');
    expect(Number(parcelRows.rows[0]?.n)).toBe(1_000);
    expect(Number(inbox.rows[0]?.n)).toBe(1_000);

    const deadLetters = stack.serviceBus.deadLetters(queue);
    expect(deadLetters).toHaveLength(50);
    for (const d of deadLetters) {
      // An id-mismatch message carries another MessageId than the event id it was made from.
      const kind = invalid.get(d.messageId) ?? invalid.get(d.messageId.replace(/-other$/, ''));
      expect(kind, `dead letter ${d.messageId}`).toBeDefined();
      expect(d.reason).toBe(expectedReason(kind as InvalidKind));
      expect(d.description).toBeTruthy();
    }
    expect(stack.serviceBus.completedMessageIds(queue)).toHaveLength(1_000);
  });

  it('drains and exits cleanly on SIGTERM, with no token in its logs', async () => {
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.output()).toContain('"msg":"stopped"');
    expect(worker.output()).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\./);
  });
});
