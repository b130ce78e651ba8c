import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../src/cloudevents/cloud-event.ts';
import { createCredential } from '../../src/identity/credential.ts';
import { describeIdentity } from '../../src/identity/describe.ts';
import { createSqlWriter } from '../../src/pipeline/sql-writer.ts';
import { type InboxOptions, reapplyInbox } from '../../src/reprocess/inbox.ts';
import { createSqlPool } from '../../src/sql/pool.ts';
import {
  exampleRegistered,
  parcelRegisteredType,
  parcelStatusChangedType,
  parcels,
} from '../fixtures/parcels/events.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';

let system: SystemStack;
const parcelIds: string[] = [];

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
    const data = parcels.schemas.get(parcelRegisteredType)?.parse(exampleRegistered(n)) as {
      parcelId: string;
    };
    parcelIds.push(data.parcelId);
    events.push(event(`registered-${n}`, parcelRegisteredType, data));
  }
  for (const [i, parcelId] of parcelIds.slice(0, 2).entries())
    events.push(
      event(`delivered-${i + 1}`, parcelStatusChangedType, { parcelId, status: 'delivered', version: 1 }),
    );
  const outcomes = await createSqlWriter({ db: system.sql, handlers: parcels }).writeBatch(events);
  expect([...outcomes.values()].every((o) => o.kind === 'complete')).toBe(true);
});
afterAll(async () => {
  await system?.close();
});

const run = (extra: Partial<InboxOptions>) =>
  reapplyInbox({
    db: system.sql,
    handlers: parcels,
    filter: {},
    database: system.stack.file.sql.database,
    identity: undefined,
    ...extra,
  });

const state = async () => {
  const rows = await system.sql.query('SELECT ParcelId, Status FROM dbo.FixtureParcels ORDER BY ParcelId');
  const labels = await system.sql.query('SELECT COUNT(*) AS n FROM dbo.FixtureParcelLabels');
  const inbox = await system.sql.query('SELECT COUNT(*) AS n FROM dbo.Inbox');
  return {
    parcels: rows.rows.map((r) => `${String(r.ParcelId).toLowerCase()} ${r.Status}`),
    labels: Number(labels.rows[0]?.n),
    inbox: Number(inbox.rows[0]?.n),
  };
};

/** What a handler that once failed to write would have left: parcels missing. */
const loseParcels = async (ids: string[]) => {
  for (const id of ids) {
    const p = { id: { type: 'uniqueidentifier', value: id } } as const;
    await system.sql.query('DELETE FROM dbo.FixtureParcelLabels WHERE ParcelId = @id', p);
    await system.sql.query('DELETE FROM dbo.FixtureParcels WHERE ParcelId = @id', p);
  }
};

describe('npm run reprocess -- inbox', () => {
  it('--dry-run counts the stored events per type and changes nothing', async () => {
    const before = await state();
    const plan: string[] = [];
    const all = await run({ dryRun: true, onPlan: (l) => plan.push(l) });
    expect(all.counts).toEqual({ 'would-reapply': 6 });
    expect(plan.sort()).toEqual([
      `would re-apply 2 ${parcelStatusChangedType}`,
      `would re-apply 4 ${parcelRegisteredType}`,
    ]);
    expect((await run({ dryRun: true, filter: { type: parcelRegisteredType } })).counts).toEqual({
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
    await loseParcels(parcelIds.slice(2));
    const summary = await run({ filter: { type: parcelRegisteredType } });
    expect(summary.counts).toEqual({ reapplied: 4 });
    // The delivered parcels stay delivered: a late registration does not move a parcel back; the inbox is unchanged.
    expect(await state()).toEqual(before);
  });

  it('an interrupted run, resumed after its last message id, finishes without doubles', async () => {
    const before = await state();
    await loseParcels(parcelIds);
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
