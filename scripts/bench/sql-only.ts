import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { CloudEvent } from '../../src/cloudevents/cloud-event.ts';
import { handlers } from '../../src/handlers/handlers.ts';
import { createHandlerRegistry } from '../../src/handlers/registry.ts';
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

const registry = createHandlerRegistry(handlers);
const benchType = registry.handlers[0]?.type ?? '';

// Valid events of the list's first type, parsed as the consumer would hand them to the writer.
const events = (n: number): CloudEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    specversion: '1.0',
    id: randomUUID(),
    source: '/bench/sql-only',
    type: benchType,
    time: new Date().toISOString(),
    data: (registry.schemas.get(benchType) as z.ZodType).parse(registry.example(benchType, i)),
  }));

/**
 * The write path alone: the SQL writer through tedious and the TDS stand-in, one transaction per
 * batch against one per message, without Service Bus.
 */
export async function runSqlOnly(db: SqlClient, total: number, batchSize: number): Promise<SqlOnlyResult> {
  const writer = createSqlWriter({ db, handlers: registry });
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
