import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { createPeriodicTask, type StartContext } from '../lifecycle.ts';
import { silentLogger } from '../logger.ts';
import type { SqlClient } from '../sql/client.ts';
import { inboxStatement } from './inbox.ts';

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
  /** Whether the database is up (the breaker closed): while it is not, a pass does nothing. @defaultValue always */
  databaseUp?: () => boolean;
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
  const { db } = options;
  const log = options.logger ?? silentLogger;
  const batch = options.batchSize ?? 500;
  const leaseMs = options.leaseMs ?? 60_000;
  const holder = options.holder ?? `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  const lease = {
    name: { type: 'nvarchar', value: leaseName },
    holder: { type: 'nvarchar', value: holder },
  } as const;
  let closed = false;
  let running: Promise<RetentionPass> | undefined;

  const take = async (): Promise<boolean> =>
    (await db.query(inboxStatement('take-lease'), { ...lease, leaseMs: { type: 'int', value: leaseMs } }))
      .rowCount === 1;

  const pass = async (): Promise<RetentionPass> => {
    // 0 means keep forever: never a DELETE of everything processed before now.
    if (options.retentionDays <= 0 || options.databaseUp?.() === false || !(await take())) {
      return { held: false, deleted: 0 };
    }
    let deleted = 0;
    try {
      for (;;) {
        const { rowCount } = await db.query(inboxStatement('delete-inbox-expired'), {
          batch: { type: 'int', value: batch },
          days: { type: 'int', value: options.retentionDays },
        });
        deleted += rowCount;
        // Renewing between batches keeps a second replica out while this one still deletes.
        if (rowCount < batch || closed || options.databaseUp?.() === false || !(await take())) break;
      }
    } finally {
      await db.query(inboxStatement('release-lease'), lease).catch(() => undefined);
    }
    if (deleted > 0) log.info({ deleted, retentionDays: options.retentionDays }, 'inbox retention pass');
    return { held: true, deleted };
  };

  const runOnce = (): Promise<RetentionPass> => {
    running ??= pass().finally(() => {
      running = undefined;
    });
    return running;
  };

  const task = createPeriodicTask({
    name: 'inbox retention',
    run: async () => {
      await runOnce();
    },
    intervalMs: options.intervalMs ?? 3_600_000,
    firstDelayMs: options.firstPassDelayMs ?? 30_000,
    onError: (error) => log.warn({ err: error }, 'inbox retention pass failed; next pass retries'),
    logger: log,
  });

  return {
    start() {
      if (options.retentionDays > 0) task.start();
    },
    runOnce,
    async close() {
      closed = true;
      await task.close();
      await running?.catch(() => undefined);
    },
  };
}

/** Inbox retention on this replica, when the retention is not 0 (keep forever). */
export function startInboxRetention(
  config: Config['inbox'],
  db: SqlClient,
  ctx: StartContext,
  databaseUp?: () => boolean,
): InboxRetention {
  const retention = createInboxRetention({
    db,
    retentionDays: config.retentionDays,
    ...(databaseUp ? { databaseUp } : {}),
    logger: ctx.logger.child({ component: 'inbox-retention' }),
  });
  retention.start();
  ctx.closer.add('inbox retention', () => retention.close());
  return retention;
}
