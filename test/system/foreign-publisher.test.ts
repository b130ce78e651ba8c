import { randomUUID } from 'node:crypto';
import type { ServiceBusClient } from '@azure/service-bus';
import { CloudEvent, HTTP } from 'cloudevents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderPlacedType } from '../../src/handlers/orders/schema.ts';
import type { SqlPool } from '../../src/sql/pool.ts';
import { foreignBinary, foreignStructured } from '../helpers/foreign-messages.ts';
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
  worker = await startWorkerProcess({ ...stack.env('worker'), SHUTDOWN_GRACE_MS: '10000' });
  publisher = system.publisher();
}, 60_000);

afterAll(async () => {
  await publisher?.close();
  if (worker && worker.child.exitCode === null) worker.child.kill('SIGKILL');
  await system?.close();
});

const order = (patch: { customerId?: string; sku?: string } = {}) => ({
  orderId: randomUUID(),
  customerId: patch.customerId ?? 'customer-1',
  currency: 'EUR',
  placedAt: '2025-03-01T10:15:00+01:00',
  lines: [{ sku: patch.sku ?? 'SKU-1', quantity: 1, unitPrice: '9.99' }],
});

const structured = (id: string, data: unknown) => foreignStructured(id, orderPlacedType, data);
const binary = (id: string, data: unknown, properties: Record<string, unknown>) =>
  foreignBinary(id, orderPlacedType, data, properties);

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

const stored = async (orderId: string) => {
  const r = await sql.query('SELECT COUNT(*) AS n FROM dbo.Orders WHERE OrderId = @id', {
    id: { type: 'uniqueidentifier', value: orderId },
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
  it('dead-letters a 500-character customerId and a 300-character SKU naming field and limit, storing nothing', async () => {
    const queue = stack.file.serviceBus.queue;
    const before = handled(queue);
    const longCustomer = order({ customerId: 'c'.repeat(500) });
    const longSku = order({ sku: 's'.repeat(300) });
    const fits = order({ customerId: 'c'.repeat(128), sku: 's'.repeat(64) });
    const ids = { customer: randomUUID(), sku: randomUUID(), fits: randomUUID() };
    const sender = publisher.createSender(queue);
    await sender.sendMessages([
      structured(ids.customer, longCustomer),
      binary(ids.sku, longSku, {}),
      structured(ids.fits, fits),
    ]);
    await sender.close();
    await settled(queue, before + 3);

    const dead = new Map(stack.serviceBus.deadLetters(queue).map((d) => [d.messageId, d]));
    expect(dead.get(ids.customer)).toMatchObject({
      reason: 'ValidationFailed',
      description: 'data.customerId: expected at most 128 UTF-16 code units (NVARCHAR(128))',
    });
    expect(dead.get(ids.sku)).toMatchObject({
      reason: 'ValidationFailed',
      description: 'data.lines[0].sku: expected at most 64 UTF-16 code units (NVARCHAR(64))',
    });
    expect(await stored(longCustomer.orderId)).toBe(0);
    expect(await stored(longSku.orderId)).toBe(0);
    expect(await inboxTime(ids.customer)).toEqual([]);
    expect(await inboxTime(ids.sku)).toEqual([]);
    // The longest values that fit are stored whole.
    const row = await sql.query('SELECT CustomerId FROM dbo.Orders WHERE OrderId = @id', {
      id: { type: 'uniqueidentifier', value: fits.orderId },
    });
    expect(row.rows[0]?.CustomerId).toBe('c'.repeat(128));
  });

  it('reads structured events as the cloudevents library serialises them, and bounds them the same', async () => {
    const queue = stack.file.serviceBus.queue;
    const before = handled(queue);
    // The library's HTTP structured serialisation, sent as bytes and as a string body.
    const fromLibrary = (data: ReturnType<typeof order>) => {
      const event = new CloudEvent({ id: randomUUID(), source: '/library', type: orderPlacedType, data });
      const message = HTTP.structured(event);
      return {
        id: event.id,
        contentType: message.headers['content-type'] as string,
        body: String(message.body),
      };
    };
    const valid = order();
    const tooLong = order({ customerId: 'c'.repeat(500) });
    const asBytes = fromLibrary(valid);
    const asString = fromLibrary(order());
    const refused = fromLibrary(tooLong);
    const sender = publisher.createSender(queue);
    await sender.sendMessages([
      { messageId: asBytes.id, contentType: asBytes.contentType, body: Buffer.from(asBytes.body) },
      { messageId: asString.id, contentType: asString.contentType, body: asString.body },
      { messageId: refused.id, contentType: refused.contentType, body: Buffer.from(refused.body) },
    ]);
    await sender.close();
    await settled(queue, before + 3);

    expect(await stored(valid.orderId)).toBe(1);
    expect(await inboxTime(asString.id)).toHaveLength(1);
    expect(stack.serviceBus.deadLetters(queue).find((d) => d.messageId === refused.id)).toMatchObject({
      reason: 'ValidationFailed',
      description: 'data.customerId: expected at most 128 UTF-16 code units (NVARCHAR(128))',
    });
    expect(await stored(tooLong.orderId)).toBe(0);
  });

  it('reads every AMQP type the CloudEvents binding maps in binary mode, and refuses a time that is a number', async () => {
    const queue = stack.file.serviceBus.queue;
    const time = new Date('2025-03-01T10:15:00.123Z');
    const asTimestamp = { id: randomUUID(), data: order() };
    const asString = { id: randomUUID(), data: order() };
    const asNumber = { id: randomUUID(), data: order() };
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
    expect(await stored(asTimestamp.data.orderId)).toBe(1);
    const dead = stack.serviceBus.deadLetters(queue).find((d) => d.messageId === asNumber.id);
    expect(dead).toMatchObject({
      reason: 'InvalidEnvelope',
      description: expect.stringContaining('application property "cloudEvents:time"'),
    });
    expect(await stored(asNumber.data.orderId)).toBe(0);
  });
});
