import { randomUUID } from 'node:crypto';
import type { ServiceBusClient } from '@azure/service-bus';
import { CloudEvent, HTTP } from 'cloudevents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlPool } from '../../src/sql/pool.ts';
import { parcelRegisteredType } from '../fixtures/parcels/events.ts';
import { foreignBinary, foreignStructured } from '../helpers/foreign-messages.ts';
import { fixtureHandlersEnv } from '../helpers/retry-fixture.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.ts';
import type { LocalStack } from '../stand-ins/stack.ts';

// Messages as a publisher that does not use this project builds them: raw SDK sendMessages with
// hand-made bodies and application properties, through the worker as `npm start` runs it.
let system: SystemStack;
let stack: LocalStack;
let worker: WorkerProcess;
let sql: SqlPool;
let publisher: ServiceBusClient;

beforeAll(async () => {
  system = await startSystemStack({ queue: 'orders-foreign' });
  ({ stack, sql } = system);
  worker = await startWorkerProcess({
    ...stack.env('worker'),
    ...fixtureHandlersEnv,
    SHUTDOWN_GRACE_MS: '10000',
  });
  publisher = system.publisher();
}, 60_000);

afterAll(async () => {
  await publisher?.close();
  if (worker && worker.child.exitCode === null) worker.child.kill('SIGKILL');
  await system?.close();
});

const parcel = (patch: { sender?: string; code?: string } = {}) => ({
  parcelId: randomUUID(),
  sender: patch.sender ?? 'sender-1',
  weightKg: '2.5',
  registeredAt: '2025-03-01T10:15:00+01:00',
  labels: [{ code: patch.code ?? 'L-1' }],
});

const structured = (id: string, data: unknown) => foreignStructured(id, parcelRegisteredType, data);
const binary = (id: string, data: unknown, properties: Record<string, unknown>) =>
  foreignBinary(id, parcelRegisteredType, data, properties);

const handled = (queue: string) =>
  stack.serviceBus.completedMessageIds(queue).length + stack.serviceBus.deadLetters(queue).length;

/** Waits until nothing is left to handle and `total` messages were completed or dead-lettered. */
const settled = async (queue: string, total: number) => {
  await expect
    .poll(
      () => {
        const c = stack.serviceBus.counts(queue);
        return c.active + c.locked + c.deferred === 0 ? handled(queue) : -1;
      },
      { timeout: 30_000, interval: 100 },
    )
    .toBe(total);
};

const stored = async (parcelId: string) => {
  const r = await sql.query('SELECT COUNT(*) AS n FROM dbo.FixtureParcels WHERE ParcelId = @id', {
    id: { type: 'uniqueidentifier', value: parcelId },
  });
  return Number(r.rows[0]?.n);
};

const inboxTime = async (id: string) => {
  const r = await sql.query('SELECT EventTime FROM dbo.Inbox WHERE MessageId = @id', {
    id: { type: 'nvarchar', value: id },
  });
  return r.rows.map((row) => new Date(row.EventTime as string | Date).toISOString());
};

describe('messages from a foreign publisher', () => {
  it('dead-letters a 500-character sender and a 300-character label code naming field and limit, storing nothing', async () => {
    const queue = stack.file.serviceBus.queue;
    const before = handled(queue);
    const longSender = parcel({ sender: 's'.repeat(500) });
    const longCode = parcel({ code: 'l'.repeat(300) });
    const fits = parcel({ sender: 's'.repeat(128), code: 'l'.repeat(32) });
    const ids = { sender: randomUUID(), code: randomUUID(), fits: randomUUID() };
    const sender = publisher.createSender(queue);
    await sender.sendMessages([
      structured(ids.sender, longSender),
      binary(ids.code, longCode, {}),
      structured(ids.fits, fits),
    ]);
    await sender.close();
    await settled(queue, before + 3);

    const dead = new Map(stack.serviceBus.deadLetters(queue).map((d) => [d.messageId, d]));
    expect(dead.get(ids.sender)).toMatchObject({
      reason: 'ValidationFailed',
      description: 'data.sender: expected at most 128 UTF-16 code units (NVARCHAR(128))',
    });
    expect(dead.get(ids.code)).toMatchObject({
      reason: 'ValidationFailed',
      description: 'data.labels[0].code: expected at most 32 UTF-16 code units (NVARCHAR(32))',
    });
    expect(await stored(longSender.parcelId)).toBe(0);
    expect(await stored(longCode.parcelId)).toBe(0);
    expect(await inboxTime(ids.sender)).toEqual([]);
    expect(await inboxTime(ids.code)).toEqual([]);
    // The longest values that fit are stored whole.
    const id = { id: { type: 'uniqueidentifier', value: fits.parcelId } } as const;
    const row = await sql.query('SELECT Sender FROM dbo.FixtureParcels WHERE ParcelId = @id', id);
    expect(row.rows[0]?.Sender).toBe('s'.repeat(128));
    const label = await sql.query('SELECT Code FROM dbo.FixtureParcelLabels WHERE ParcelId = @id', id);
    expect(label.rows.map((r) => r.Code)).toEqual(['l'.repeat(32)]);
  });

  it('reads structured events as the cloudevents library serialises them, and bounds them the same', async () => {
    const queue = stack.file.serviceBus.queue;
    const before = handled(queue);
    // The library's HTTP structured serialisation, sent as bytes and as a string body.
    const fromLibrary = (data: ReturnType<typeof parcel>) => {
      const event = new CloudEvent({
        id: randomUUID(),
        source: '/library',
        type: parcelRegisteredType,
        data,
      });
      const message = HTTP.structured(event);
      return {
        id: event.id,
        contentType: message.headers['content-type'] as string,
        body: String(message.body),
      };
    };
    const valid = parcel();
    const tooLong = parcel({ sender: 's'.repeat(500) });
    const asBytes = fromLibrary(valid);
    const asString = fromLibrary(parcel());
    const refused = fromLibrary(tooLong);
    const sender = publisher.createSender(queue);
    await sender.sendMessages([
      { messageId: asBytes.id, contentType: asBytes.contentType, body: Buffer.from(asBytes.body) },
      { messageId: asString.id, contentType: asString.contentType, body: asString.body },
      { messageId: refused.id, contentType: refused.contentType, body: Buffer.from(refused.body) },
    ]);
    await sender.close();
    await settled(queue, before + 3);

    expect(await stored(valid.parcelId)).toBe(1);
    expect(await inboxTime(asString.id)).toHaveLength(1);
    expect(stack.serviceBus.deadLetters(queue).find((d) => d.messageId === refused.id)).toMatchObject({
      reason: 'ValidationFailed',
      description: 'data.sender: expected at most 128 UTF-16 code units (NVARCHAR(128))',
    });
    expect(await stored(tooLong.parcelId)).toBe(0);
  });

  it('reads every AMQP type the CloudEvents binding maps in binary mode, and refuses a time that is a number', async () => {
    const queue = stack.file.serviceBus.queue;
    const time = new Date('2025-03-01T10:15:00.123Z');
    const asTimestamp = { id: randomUUID(), data: parcel() };
    const asString = { id: randomUUID(), data: parcel() };
    const asNumber = { id: randomUUID(), data: parcel() };
    // Extension attributes of each mapped type: the worker does not store them, nor trip over them.
    const extensions = {
      'cloudEvents:flag': true,
      'cloudEvents:priority': 42,
      'cloudEvents:offset': -7,
      'cloudEvents:big': 2 ** 40,
      'cloudEvents:blob': Buffer.from([0, 1, 2, 255]),
      'cloudEvents:seen': new Date('2024-01-01T00:00:00Z'),
      'cloudEvents:note': 'text',
    };
    const sender = publisher.createSender(queue);
    const before = handled(queue);
    await sender.sendMessages([
      binary(asTimestamp.id, asTimestamp.data, { 'cloudEvents:time': time, ...extensions }),
      binary(asString.id, asString.data, { 'cloudEvents:time': '2025-03-01T11:15:00.123+01:00' }),
      binary(asNumber.id, asNumber.data, { 'cloudEvents:time': time.getTime() }),
    ]);
    await sender.close();
    await settled(queue, before + 3);

    expect(await inboxTime(asTimestamp.id)).toEqual([time.toISOString()]);
    expect(await inboxTime(asString.id)).toEqual([time.toISOString()]);
    expect(await stored(asTimestamp.data.parcelId)).toBe(1);
    const dead = stack.serviceBus.deadLetters(queue).find((d) => d.messageId === asNumber.id);
    expect(dead).toMatchObject({
      reason: 'InvalidEnvelope',
      description: expect.stringContaining('application property "cloudEvents:time"'),
    });
    expect(await stored(asNumber.data.parcelId)).toBe(0);
  });
});
