import type { ServiceBusSender } from '@azure/service-bus';
import { type PublishItem, toServiceBusMessage } from '../../src/cloudevents/envelope.ts';
import { sampleEvent } from '../../src/cloudevents/sample-events.ts';
import { handlers } from '../../src/handlers/handlers.ts';
import { createHandlerRegistry } from '../../src/handlers/registry.ts';
import { publishEvents } from '../../src/servicebus/publisher.ts';
import type { SqlClient } from '../../src/sql/client.ts';
import { percentile } from './proc.ts';

// The worker's own list: the bench publishes the first event type with that handler's example data.
const registry = createHandlerRegistry(handlers);
export const benchType = registry.handlers[0]?.type ?? '';
const dataFor = (type: string, n: number) => registry.example(type, n);

/**
 * Publishes a backlog of valid events of the list's first type under `source` (their inbox rows can be told
 * apart by it). With `at`, the broker holds them until then (scheduled enqueue), so that the whole
 * backlog appears at once, however long publishing took.
 */
export async function publishBacklog(
  sender: ServiceBusSender,
  count: number,
  options: { source?: string; at?: Date } = {},
): Promise<void> {
  const { source, at } = options;
  function* items(): Generator<PublishItem> {
    for (let n = 0; n < count; n++) {
      const event = sampleEvent(benchType, dataFor(benchType, n), source);
      yield at ? { raw: { ...toServiceBusMessage(event), scheduledEnqueueTimeUtc: at } } : event;
    }
  }
  const summary = await publishEvents(sender, items());
  if (summary.failed > 0) throw new Error(`publishing the backlog: ${summary.failed} of ${count} failed`);
}

/**
 * Offers `perSecond` events for `seconds`, each stamped with its send time as the event `time`,
 * under `source` so that their inbox rows can be told apart. Returns how many were sent.
 */
export async function offerLoad(
  sender: ServiceBusSender,
  options: { perSecond: number; seconds: number; source: string },
): Promise<number> {
  const started = performance.now();
  let sent = 0;
  for (;;) {
    const elapsed = performance.now() - started;
    if (elapsed >= options.seconds * 1000) return sent;
    const due = Math.floor((elapsed / 1000) * options.perSecond) - sent;
    if (due > 0) {
      const messages = Array.from({ length: due }, (_, i) =>
        toServiceBusMessage(sampleEvent(benchType, dataFor(benchType, sent + i), options.source)),
      );
      await sender.sendMessages(messages);
      sent += due;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Enqueue → commit, in ms, of the events from `source`: event time to their inbox row, written in the committing transaction. */
export async function lagOf(db: SqlClient, source: string): Promise<number[]> {
  const { rows } = await db.query('SELECT EventTime, ProcessedAt FROM dbo.Inbox WHERE Source = @source', {
    source: { type: 'nvarchar', value: source },
  });
  return rows
    .map((r) => (r.ProcessedAt as Date).getTime() - (r.EventTime as Date).getTime())
    .sort((a, b) => a - b);
}

export const lagSummary = (lags: readonly number[]) => ({
  p50: percentile(lags, 0.5),
  p99: percentile(lags, 0.99),
});

/** How many events from `source` are applied, and when the first and the last were committed (epoch ms). */
export async function appliedFrom(
  db: SqlClient,
  source: string,
): Promise<{ count: number; firstMs: number; lastMs: number }> {
  const { rows } = await db.query(
    'SELECT COUNT(*) AS n, MIN(ProcessedAt) AS firstAt, MAX(ProcessedAt) AS lastAt FROM dbo.Inbox WHERE Source = @source',
    { source: { type: 'nvarchar', value: source } },
  );
  const ms = (d: unknown) => (d instanceof Date ? d.getTime() : Number.NaN);
  return { count: Number(rows[0]?.n ?? 0), firstMs: ms(rows[0]?.firstAt), lastMs: ms(rows[0]?.lastAt) };
}
