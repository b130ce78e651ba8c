import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { orderHandlers } from '../../src/handlers/orders/handlers.ts';
import { orderPlacedType, orderStatusChangedType } from '../../src/handlers/orders/schema.ts';
import type { CloudEvent } from '../../src/pipeline/cloud-event.ts';
import { createSqlWriter, type SqlWriter } from '../../src/pipeline/sql-writer.ts';
import { type SqlClient, singleConnectionClient } from '../../src/sql/client.ts';
import { migrate } from '../../src/sql/migrate.ts';
import { connectEngine } from '../stand-ins/sql/engine/connection.ts';
import { createPgliteEngine } from '../stand-ins/sql/engine/index.ts';
import type { SqlEngine } from '../stand-ins/sql/engine-api.ts';

/** A placed event for `orderId` with two lines (total 2 × 12.50 + 1 × 3.00 = 28.00). */
export const placedEvent = (orderId: string, id: string = randomUUID()): CloudEvent => ({
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

export const statusEvent = (
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

export type EngineWriter = { engine: SqlEngine; db: SqlClient; writer: SqlWriter };

/**
 * The SQL writer on the engine directly (no TDS), migrated before the file's tests and closed after
 * them: for properties that write hundreds of batches. The wire is covered in sql-writer.test.ts.
 */
export function useEngineWriter(): EngineWriter {
  const ctx = {} as EngineWriter;
  beforeAll(async () => {
    const engine = await createPgliteEngine();
    const db = singleConnectionClient(await connectEngine(engine, 'dbo'));
    await migrate(db);
    Object.assign(ctx, { engine, db, writer: createSqlWriter({ db, handlers: orderHandlers }) });
  });
  afterAll(async () => {
    await ctx.engine?.close();
  });
  return ctx;
}
