import type { CloudEvent } from '../cloudevents/cloud-event.ts';
import type { SqlExecutor } from '../sql/client.ts';
import { loadStatements } from '../sql/statements.ts';

/** The inbox's statements and its migrations (dbo.Inbox, dbo.Leases), beside this file. */
export const inboxStatement = loadStatements(new URL('./', import.meta.url), [
  'select-inbox-seen',
  'insert-inbox',
  'select-inbox-page',
  'count-inbox',
  'delete-inbox-expired',
  'take-lease',
  'release-lease',
]);

/** The product's own migrations: the inbox and the leases of its jobs. Numbered below 0100. */
export const inboxMigrations = new URL('./migrations/', import.meta.url);

/** SQL Server compares NVARCHAR keys case-insensitively (default collation): ids that differ by case are one. */
export const inboxKey = (id: string): string => id.toLowerCase();

/**
 * Keys of the events whose effect is committed already. The statement's key-range locks keep a
 * concurrent batch with the same ids waiting until this transaction ends, so it then sees them.
 */
export async function appliedKeys(tx: SqlExecutor, events: readonly CloudEvent[]): Promise<Set<string>> {
  const ids = JSON.stringify(events.map((e) => e.id));
  const seen = await tx.query(inboxStatement('select-inbox-seen'), { ids: { type: 'nvarchar', value: ids } });
  return new Set(seen.rows.map((r) => inboxKey(String(r.MessageId))));
}

/** Records the events as applied, in the transaction of their effects (exactly-once effect). */
export async function recordApplied(tx: SqlExecutor, events: readonly CloudEvent[]): Promise<void> {
  const messages = events.map((e) => ({
    id: e.id,
    type: e.type,
    source: e.source,
    time: e.time ?? null,
    payload: JSON.stringify(e),
  }));
  await tx.query(inboxStatement('insert-inbox'), {
    messages: { type: 'nvarchar', value: JSON.stringify(messages) },
  });
}
