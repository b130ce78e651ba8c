import { randomUUID } from 'node:crypto';
import { orderHandlers } from '../../src/handlers/orders/handlers.ts';
import { orderPlacedType } from '../../src/handlers/orders/schema.ts';
import type { CloudEvent } from '../../src/pipeline/cloud-event.ts';
import { createSqlWriter } from '../../src/pipeline/sql-writer.ts';
import type { SqlClient } from '../../src/sql/client.ts';

export type SqlOnlyResult = {
  events: number;
  batchSize: number;
  batchedRowsPerSec: number;
  singleRowsPerSec: number;
  /** Mean time of one batched transaction (batchSize events), in ms: the commit time of the lag target. */
  batchCommitMs: number;
};

const events = (n: number): CloudEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    specversion: '1.0',
    id: randomUUID(),
    source: '/bench/sql-only',
    type: orderPlacedType,
    time: new Date().toISOString(),
    data: {
      orderId: randomUUID(),
      customerId: `customer-${i % 97}`,
      currency: 'EUR',
      placedAt: new Date().toISOString(),
      lines: [{ sku: `SKU-${i % 50}`, quantity: 1 + (i % 5), unitPrice: '12.50' }],
    },
  }));

/**
 * The write path alone: the SQL writer through tedious and the TDS stand-in, one transaction per
 * batch against one per message, without Service Bus.
 */
export async function runSqlOnly(db: SqlClient, total: number, batchSize: number): Promise<SqlOnlyResult> {
  const writer = createSqlWriter({ db, handlers: orderHandlers });
  const run = async (size: number): Promise<number> => {
    const all = events(total);
    const started = performance.now();
    for (let i = 0; i < all.length; i += size) {
      const outcomes = await writer.writeBatch(all.slice(i, i + size));
      for (const o of outcomes.values())
        if (o.kind !== 'complete') throw new Error(`bench write failed: ${JSON.stringify(o)}`);
    }
    return performance.now() - started;
  };
  await run(batchSize); // warm-up: connections, plans, JIT
  const batchedMs = await run(batchSize);
  const singleMs = await run(1);
  return {
    events: total,
    batchSize,
    batchedRowsPerSec: (total / batchedMs) * 1000,
    singleRowsPerSec: (total / singleMs) * 1000,
    batchCommitMs: batchedMs / Math.ceil(total / batchSize),
  };
}
