import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../src/cloudevents/cloud-event.ts';
import { orderHandlers } from '../../src/handlers/orders/handlers.ts';
import { orderPlacedType, orderStatusChangedType } from '../../src/handlers/orders/schema.ts';
import { createHandlerRegistry } from '../../src/handlers/registry.ts';
import { useEngineWriter } from './sql-fixtures.ts';

// The example domain's own property: its handlers converge, whatever the pipeline does to the events.
const sql = useEngineWriter(createHandlerRegistry(orderHandlers));

/** A placed event for `orderId` with two lines (total 2 × 12.50 + 1 × 3.00 = 28.00). */
const placedEvent = (orderId: string, id: string = randomUUID()): CloudEvent => ({
  specversion: '1.0',
  id,
  source: '/test/orders',
  type: orderPlacedType,
  time: '2024-05-01T10:00:00Z',
  data: {
    orderId,
    customerId: 'customer-1',
    currency: 'EUR',
    placedAt: '2024-05-01T09:59:00+02:00',
    lines: [
      { sku: 'SKU-1', quantity: 2, unitPrice: '12.50' },
      { sku: 'SKU-2', quantity: 1, unitPrice: '3' },
    ],
  },
});

const statusEvent = (
  orderId: string,
  status: 'paid' | 'shipped' | 'cancelled',
  version: number,
  id: string = randomUUID(),
): CloudEvent => ({
  specversion: '1.0',
  id,
  source: '/test/orders',
  type: orderStatusChangedType,
  time: '2024-05-01T10:05:00Z',
  data: { orderId, status, version },
});

const STATUSES = ['paid', 'shipped', 'cancelled'] as const;

const row = async (orderId: string) => {
  const r = await sql.db.query(
    'SELECT CustomerId, Currency, PlacedAt, Total, Status, StatusVersion FROM dbo.Orders WHERE OrderId = @id',
    { id: { type: 'uniqueidentifier', value: orderId } },
  );
  const lines = await sql.db.query(
    'SELECT LineNumber, Sku, Quantity, UnitPrice FROM dbo.OrderLines WHERE OrderId = @id ORDER BY LineNumber',
    {
      id: { type: 'uniqueidentifier', value: orderId },
    },
  );
  return { order: r.rows, lines: lines.rows };
};

/** An order's history: maybe a placed event, status changes with distinct versions, and repeats. */
const history = fc.record({
  placed: fc.boolean(),
  statuses: fc
    .uniqueArray(fc.integer({ min: 1, max: 6 }), { maxLength: 4 })
    .chain((versions) =>
      fc.tuple(...versions.map((v) => fc.tuple(fc.constant(v), fc.constantFrom(...STATUSES)))),
    ),
  redeliveries: fc.array(fc.nat(), { maxLength: 3 }),
  newIdRepeats: fc.array(fc.nat(), { maxLength: 2 }),
  seed: fc.integer(),
  cuts: fc.array(fc.nat({ max: 10 }), { maxLength: 4 }),
});

describe('orders converge', () => {
  it('ends every order, placed and status changes in any order with repeats and any batching, in the same row', async () => {
    await fc.assert(
      fc.asyncProperty(history, fc.infiniteStream(fc.nat()), async (h, random) => {
        if (!h.placed && h.statuses.length === 0) return;
        const events = (orderId: string): CloudEvent[] => {
          const ids = { placed: `placed-${orderId}`, status: (v: number) => `status-${orderId}-${v}` };
          const list: CloudEvent[] = [];
          if (h.placed) list.push(placedEvent(orderId, ids.placed));
          for (const [v, s] of h.statuses) list.push(statusEvent(orderId, s, v, ids.status(v)));
          return list;
        };
        // The reference: each event once, in the natural order, in one batch.
        const reference = randomUUID();
        await sql.writer.writeBatch(events(reference));
        const expected = await row(reference);

        const orderId = randomUUID();
        const base = events(orderId);
        const stream = [...base];
        for (const r of h.redeliveries) stream.push(base[r % base.length] as CloudEvent);
        for (const r of h.newIdRepeats)
          stream.push({ ...(base[r % base.length] as CloudEvent), id: randomUUID() });
        const draws = random[Symbol.iterator]();
        const shuffled = stream
          .map((e) => ({ e, k: draws.next().value as number }))
          .sort((a, b) => a.k - b.k)
          .map((x) => x.e);
        let start = 0;
        for (const cut of [...h.cuts, shuffled.length]) {
          const end = Math.min(shuffled.length, start + 1 + cut);
          const outcomes = await sql.writer.writeBatch(shuffled.slice(start, end));
          for (const o of outcomes.values()) expect(o).toEqual({ kind: 'complete' });
          start = end;
          if (start >= shuffled.length) break;
        }
        expect(await row(orderId)).toEqual(expected);
      }),
      { numRuns: 40 },
    );
  }, 120_000);
});
