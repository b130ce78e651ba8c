import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCredential } from '../../src/identity/credential.ts';
import { inboxStatement } from '../../src/inbox/inbox.ts';
import { createInboxRetention } from '../../src/inbox/retention.ts';
import { createSqlPool, type SqlPool } from '../../src/sql/pool.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';

let system: SystemStack;
let worker: SqlPool;

beforeAll(async () => {
  system = await startSystemStack({});
  const { server, port, database } = system.stack.file.sql;
  // As the worker runs it: db_datareader + db_datawriter, no more.
  const credential = createCredential({ clientId: system.stack.file.identities.worker.clientId });
  worker = createSqlPool({
    server,
    port,
    database,
    authentication: { type: 'token-credential', options: { credential } },
    max: 4,
  });
});
afterAll(async () => {
  await worker?.close();
  await system?.close();
});

const day = 86_400_000;
beforeEach(async () => {
  await system.sql.query('DELETE FROM dbo.Inbox');
  const rows = [
    ...Array.from({ length: 5 }, (_, i) => ({ id: `old-${i}`, at: new Date(Date.now() - 40 * day) })),
    ...Array.from({ length: 3 }, (_, i) => ({ id: `new-${i}`, at: new Date(Date.now() - 2 * day) })),
  ];
  for (const r of rows)
    await system.sql.query(
      `INSERT INTO dbo.Inbox (MessageId, Type, Source, EventTime, ReceivedAt, ProcessedAt, Payload)
       VALUES (@id, N't', N'/s', NULL, @at, @at, N'{}')`,
      { id: { type: 'nvarchar', value: r.id }, at: { type: 'datetime2', value: r.at } },
    );
});

const inboxIds = async () =>
  (await system.sql.query('SELECT MessageId FROM dbo.Inbox ORDER BY MessageId')).rows.map((r) => r.MessageId);
const retention = (holder: string, retentionDays = 30) =>
  createInboxRetention({ db: worker, retentionDays, batchSize: 2, holder });
const takeLease = (holder: string, leaseMs: number) =>
  system.sql.query(inboxStatement('take-lease'), {
    name: { type: 'nvarchar', value: 'inbox-retention' },
    holder: { type: 'nvarchar', value: holder },
    leaseMs: { type: 'int', value: leaseMs },
  });

describe('inbox retention', () => {
  it('deletes the rows past retention in batches and keeps the recent ones', async () => {
    const r = retention('replica-a');
    expect(await r.runOnce()).toEqual({ held: true, deleted: 5 });
    expect(await inboxIds()).toEqual(['new-0', 'new-1', 'new-2']);
    expect(await r.runOnce()).toEqual({ held: true, deleted: 0 });
    await r.close();
  });

  it('runs on one replica at a time: another one holding the lease makes a pass do nothing', async () => {
    expect((await takeLease('replica-b', 60_000)).rowCount).toBe(1);
    const a = retention('replica-a');
    expect(await a.runOnce()).toEqual({ held: false, deleted: 0 });
    expect(await inboxIds()).toHaveLength(8);
    await system.sql.query(inboxStatement('release-lease'), {
      name: { type: 'nvarchar', value: 'inbox-retention' },
      holder: { type: 'nvarchar', value: 'replica-b' },
    });
    const both = await Promise.all([a.runOnce(), retention('replica-c').runOnce()]);
    expect(both.reduce((n, p) => n + p.deleted, 0)).toBe(5);
    expect(await inboxIds()).toEqual(['new-0', 'new-1', 'new-2']);
    await a.close();
  });

  it('takes over the lease of a replica that died once it expires', async () => {
    expect((await takeLease('replica-dead', 200)).rowCount).toBe(1);
    await sleep(300);
    expect(await retention('replica-a').runOnce()).toEqual({ held: true, deleted: 5 });
  });

  it('keeps everything with INBOX_RETENTION_DAYS=0', async () => {
    expect(await retention('replica-a', 0).runOnce()).toEqual({ held: false, deleted: 0 });
    expect(await inboxIds()).toHaveLength(8);
  });
});
