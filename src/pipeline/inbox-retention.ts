import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { SqlClient } from '../sql/client.ts';
import { statement } from '../sql/statements.ts';

export type InboxRetentionOptions = {
  db: SqlClient;
  /** Inbox rows processed longer ago than this are deleted; 0 turns retention off. */
  retentionDays: number;
  /** How often a pass runs. @defaultValue 3600000 */
  intervalMs?: number;
  /** Rows per DELETE: each batch is its own short transaction. @defaultValue 500 */
  batchSize?: number;
  /** How long one pass holds the lease before it must renew it. @defaultValue 60000 */
  leaseMs?: number;
  /** Delay before the first pass, so that a start is not slowed by it. @defaultValue 30000 */
  firstPassDelayMs?: number;
  /** This replica's name in dbo.Leases. @defaultValue host name, pid and a random suffix */
  holder?: string;
  /** @defaultValue no logging */
  logger?: Pick<Logger, 'info' | 'warn' | 'debug'>;
};

export type RetentionPass = { held: boolean; deleted: number };

export type InboxRetention = {
  start(): void;
  /** One pass now: take the lease or do nothing, then delete in batches while holding it. */
  runOnce(): Promise<RetentionPass>;
  /** Stops the timer and waits for a pass under way to finish its batch. Idempotent. */
  close(): Promise<void>;
};

const leaseName = 'inbox-retention';

/**
 * Inbox retention: deletes inbox rows older than the retention in small batches, one replica at a
 * time (a lease row in dbo.Leases, by server time, so replicas' clocks do not matter). An id deleted
 * from the inbox no longer guards against a redelivery: retention must exceed the replay horizon.
 */
export function createInboxRetention(options: InboxRetentionOptions): InboxRetention {
  const { db, logger: log } = options;
  const batch = options.batchSize ?? 500;
  const leaseMs = options.leaseMs ?? 60_000;
  const holder = options.holder ?? `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  const lease = {
    name: { type: 'nvarchar', value: leaseName },
    holder: { type: 'nvarchar', value: holder },
  } as const;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let running: Promise<RetentionPass> | undefined;
  let closing: Promise<void> | undefined;

  const take = async (): Promise<boolean> =>
    (await db.query(statement('take-lease'), { ...lease, leaseMs: { type: 'int', value: leaseMs } }))
      .rowCount === 1;

  const pass = async (): Promise<RetentionPass> => {
    // 0 means keep forever: never a DELETE of everything processed before now.
    if (options.retentionDays <= 0 || !(await take())) return { held: false, deleted: 0 };
    let deleted = 0;
    try {
      for (;;) {
        const { rowCount } = await db.query(statement('delete-inbox-expired'), {
          batch: { type: 'int', value: batch },
          days: { type: 'int', value: options.retentionDays },
        });
        deleted += rowCount;
        // Renewing between batches keeps a second replica out while this one still deletes.
        if (rowCount < batch || closed || !(await take())) break;
      }
    } finally {
      await db.query(statement('release-lease'), lease).catch(() => undefined);
    }
    if (deleted > 0) log?.info({ deleted, retentionDays: options.retentionDays }, 'inbox retention pass');
    return { held: true, deleted };
  };

  const runOnce = (): Promise<RetentionPass> => {
    running ??= pass().finally(() => {
      running = undefined;
    });
    return running;
  };

  const schedule = (delayMs: number): void => {
    if (closed) return;
    timer = setTimeout(() => {
      runOnce()
        .catch((error: unknown) =>
          log?.warn({ err: error }, 'inbox retention pass failed; next pass retries'),
        )
        .finally(() => schedule(options.intervalMs ?? 3_600_000));
    }, delayMs);
    timer.unref();
  };

  return {
    start() {
      if (options.retentionDays > 0 && !timer && !closed) schedule(options.firstPassDelayMs ?? 30_000);
    },
    runOnce,
    close() {
      closing ??= (async () => {
        closed = true;
        clearTimeout(timer);
        await running?.catch(() => undefined);
      })();
      return closing;
    },
  };
}
