import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderHandlers } from '../../src/handlers/orders/handlers.ts';
import { orderPlacedType, orderStatusChangedType } from '../../src/handlers/orders/schema.ts';
import { exampleOrderPlaced } from '../../src/handlers/orders/schema-examples.ts';
import { createCredential } from '../../src/identity/credential.ts';
import { describeIdentity } from '../../src/identity/describe.ts';
import type { CloudEvent } from '../../src/pipeline/cloud-event.ts';
import { createSqlWriter } from '../../src/pipeline/sql-writer.ts';
import { type InboxOptions, reapplyInbox } from '../../src/reprocess/inbox.ts';
import { createSqlPool } from '../../src/sql/pool.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';

let system: SystemStack;
const orderIds: string[] = [];

const event = (id: string, type: string, data: unknown): CloudEvent => ({
  specversion: '1.0',
  id,
  source: '/test/reprocess-inbox',
  type,
  data,
});

beforeAll(async () => {
  system = await startSystemStack({});
  const events: CloudEvent[] = [];
  for (let n = 1; n <= 4; n++) {
    const data = exampleOrderPlaced(n);
    orderIds.push(data.orderId);
    events.push(event(`placed-${n}`, orderPlacedType, data));
  }
  for (const [i, orderId] of orderIds.slice(0, 2).entries())
    events.push(event(`paid-${i + 1}`, orderStatusChangedType, { orderId, status: 'paid', version: 1 }));
  const outcomes = await createSqlWriter({ db: system.sql, handlers: orderHandlers }).writeBatch(events);
  expect([...outcomes.values()].every((o) => o.kind === 'complete')).toBe(true);
});
afterAll(async () => {
  await system?.close();
});

const run = (extra: Partial<InboxOptions>) =>
  reapplyInbox({
    db: system.sql,
    handlers: orderHandlers,
    filter: {},
    database: system.stack.file.sql.database,
    identity: undefined,
    ...extra,
  });

const state = async () => {
  const orders = await system.sql.query('SELECT OrderId, Status FROM dbo.Orders ORDER BY OrderId');
  const lines = await system.sql.query('SELECT COUNT(*) AS n FROM dbo.OrderLines');
  const inbox = await system.sql.query('SELECT COUNT(*) AS n FROM dbo.Inbox');
  return {
    orders: orders.rows.map((r) => `${String(r.OrderId).toLowerCase()} ${r.Status}`),
    lines: Number(lines.rows[0]?.n),
    inbox: Number(inbox.rows[0]?.n),
  };
};

/** What a handler that once failed to write would have left: two orders missing. */
const loseOrders = async (ids: string[]) => {
  for (const id of ids) {
    const p = { id: { type: 'uniqueidentifier', value: id } } as const;
    await system.sql.query('DELETE FROM dbo.OrderLines WHERE OrderId = @id', p);
    await system.sql.query('DELETE FROM dbo.Orders WHERE OrderId = @id', p);
  }
};

describe('npm run reprocess -- inbox', () => {
  it('--dry-run counts the stored events per type and changes nothing', async () => {
    const before = await state();
    const plan: string[] = [];
    const all = await run({ dryRun: true, onPlan: (l) => plan.push(l) });
    expect(all.counts).toEqual({ 'would-reapply': 6 });
    expect(plan.sort()).toEqual([
      `would re-apply 2 ${orderStatusChangedType}`,
      `would re-apply 4 ${orderPlacedType}`,
    ]);
    expect((await run({ dryRun: true, filter: { type: orderPlacedType } })).counts).toEqual({
      'would-reapply': 4,
    });
    expect((await run({ dryRun: true, filter: { since: new Date(Date.now() + 60_000) } })).counts).toEqual(
      {},
    );
    expect((await run({ dryRun: true, filter: { until: new Date(Date.now() + 60_000) } })).counts).toEqual({
      'would-reapply': 6,
    });
    expect(await state()).toEqual(before);
  });

  it('re-applies exactly the selected type, restoring what is missing and changing nothing else', async () => {
    const before = await state();
    await loseOrders(orderIds.slice(2));
    const summary = await run({ filter: { type: orderPlacedType } });
    expect(summary.counts).toEqual({ reapplied: 4 });
    // The paid orders stay paid: a late `placed` does not move an order back; the inbox is unchanged.
    expect(await state()).toEqual(before);
  });

  it('an interrupted run, resumed after its last message id, finishes without doubles', async () => {
    const before = await state();
    await loseOrders(orderIds);
    const stop = new AbortController();
    const first = await run({
      pageSize: 1,
      signal: stop.signal,
      onProgress: ({ done }) => done === 2 && stop.abort(),
    });
    expect(first.interrupted).toBe(true);
    expect(first.counts).toEqual({ reapplied: 2 });
    const second = await run({ pageSize: 2, filter: { after: first.lastMessageId } });
    expect(second.counts).toEqual({ reapplied: 4 });
    expect(await state()).toEqual(before);
    // Run again from the start: the handlers' idempotence keeps it a no-op.
    expect((await run({})).counts).toEqual({ reapplied: 6 });
    expect(await state()).toEqual(before);
  });

  it('names the missing db_datawriter role, with the lines that grant it', async () => {
    const { identity, sqlEngine, file } = system.stack;
    const reader = identity.addIdentity('keyless-inbox-reader');
    const admin = await sqlEngine.openSession(file.sql.database, 'dbo');
    await admin.execute(`CREATE USER [${reader.name}] FROM EXTERNAL PROVIDER`);
    await admin.execute(`ALTER ROLE db_datareader ADD MEMBER [${reader.name}]`);
    await admin.close();
    const credential = createCredential({ clientId: reader.clientId });
    const token = await credential.getToken('https://database.windows.net/.default');
    const pool = createSqlPool({
      server: file.sql.server,
      port: file.sql.port,
      database: file.sql.database,
      authentication: { type: 'token-credential', options: { credential } },
      max: 1,
    });
    try {
      const before = await state();
      const attempt = run({ db: pool, identity: describeIdentity(token?.token ?? '') });
      await expect(attempt).rejects.toMatchObject({ name: 'AccessError', code: 'MissingDatabasePermission' });
      const message = await attempt.catch((e: Error) => e.message);
      expect(message).toContain('keyless-inbox-reader');
      expect(message).toContain('ALTER ROLE db_datawriter ADD MEMBER [keyless-inbox-reader];');
      expect(await state()).toEqual(before);
    } finally {
      await pool.close();
    }
  });
});
