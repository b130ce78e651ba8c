import type { CloudEvent } from '../cloudevents/cloud-event.ts';
import type { HandlerRegistry } from '../handlers/registry.ts';
import type { IdentityDescription } from '../identity/describe.ts';
import { inboxStatement } from '../inbox/inbox.ts';
import type { SqlClient, SqlParams } from '../sql/client.ts';
import { needDatabaseRoles } from './access.ts';
import { createTally, type ReprocessOptions, type ReprocessSummary } from './run.ts';

/** Which stored events a re-apply selects; every given filter must match. */
export type InboxFilter = {
  type?: string;
  /** Processed at or after. */
  since?: Date;
  /** Processed before. */
  until?: Date;
  /** Resume: only message ids after this one (in the database's order), as the summary's `lastMessageId`. */
  after?: string;
};

export type InboxOptions = ReprocessOptions & {
  db: SqlClient;
  handlers: HandlerRegistry;
  filter: InboxFilter;
  database: string;
  identity: IdentityDescription | undefined;
  /** Events applied in one transaction. @defaultValue 100 */
  pageSize?: number;
};

export type InboxSummary = ReprocessSummary & {
  /** The last message id handled: `--after` it resumes an interrupted run. */
  lastMessageId: string | undefined;
};

// No filter is the widest range, not NULL: the statements stay plain range predicates on the index.
const params = (f: InboxFilter, limit: number, after: string): SqlParams => ({
  type: { type: 'nvarchar', value: f.type ?? '' },
  since: { type: 'datetime2', value: f.since ?? new Date('0001-01-01T00:00:00Z') },
  until: { type: 'datetime2', value: f.until ?? new Date('9999-12-31T00:00:00Z') },
  after: { type: 'nvarchar', value: after },
  limit: { type: 'int', value: limit },
});

/**
 * Re-applies stored events from `dbo.Inbox` through today's handlers, for a backfill after a
 * handler changed. It goes around the inbox dedupe on purpose (every selected event is already in
 * the inbox) and writes no inbox row, so it is safe only because handlers are idempotent and
 * order-independent per entity: applying an event again, or late, converges to the same rows.
 * For the same reason an interrupted run may simply be run again.
 */
export async function reapplyInbox(options: InboxOptions): Promise<InboxSummary> {
  const { db, filter } = options;
  const pageSize = options.pageSize ?? 100;
  const { handlers } = options;
  const access = { identity: options.identity, database: options.database };
  const counts = await needDatabaseRoles(
    () => db.query(inboxStatement('count-inbox'), params(filter, 0, filter.after ?? '')),
    { ...access, roles: ['db_datareader'], action: 'read dbo.Inbox' },
  );
  const available = counts.rows.reduce((n, r) => n + Number(r.Events), 0);
  const total = Math.min(available, options.max ?? Infinity);
  const tally = createTally(options, total);
  let lastMessageId: string | undefined;
  if (options.dryRun) {
    for (const r of counts.rows) {
      const type = String(r.Type);
      options.onPlan?.(
        `would re-apply ${r.Events} ${type}${handlers.has(type) ? '' : ' (no handler: skipped)'}`,
      );
      tally.summary.counts[handlers.has(type) ? 'would-reapply' : 'would-skip-no-handler'] =
        (tally.summary.counts[handlers.has(type) ? 'would-reapply' : 'would-skip-no-handler'] ?? 0) +
        Number(r.Events);
    }
    return { ...tally.summary, lastMessageId };
  }
  let after = filter.after ?? '';
  let left = total;
  while (left > 0 && tally.go) {
    const page = await db.query(
      inboxStatement('select-inbox-page'),
      params(filter, Math.min(pageSize, left), after),
    );
    if (page.rows.length === 0) break;
    const byType = new Map<string, CloudEvent[]>();
    for (const r of page.rows) {
      await tally.pace();
      const event = JSON.parse(String(r.Payload)) as CloudEvent;
      const group = byType.get(String(r.Type));
      if (group) group.push(event);
      else byType.set(String(r.Type), [event]);
    }
    const ids = page.rows.map((r) => String(r.MessageId));
    try {
      await needDatabaseRoles(
        () =>
          db.transaction(async (tx) => {
            for (const [type, events] of byType)
              if (handlers.has(type)) await handlers.write(type, events, tx);
          }),
        { ...access, roles: ['db_datareader', 'db_datawriter'], action: 're-apply events' },
      );
      for (const [type, events] of byType)
        for (const _ of events) tally.count(handlers.has(type) ? 'reapplied' : 'skipped-no-handler');
    } catch (error: unknown) {
      if ((error as Error).name === 'AccessError') throw error;
      for (const id of ids) tally.count('failed', { id, error });
    }
    after = ids.at(-1) as string;
    lastMessageId = after;
    left -= page.rows.length;
  }
  return { ...tally.summary, lastMessageId };
}
