import { randomUUID } from 'node:crypto';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { ManagedIdentityCredential } from '@azure/identity';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../src/cloudevents/cloud-event.ts';
import { createSqlWriter } from '../../src/pipeline/sql-writer.ts';
import { migrate } from '../../src/sql/migrate.ts';
import type { SqlPool, SqlPoolOptions } from '../../src/sql/pool.ts';
import { testMigrationDirs } from '../fixtures/migrations.ts';
import { parcels, registeredEvent, statusEvent } from '../fixtures/parcels/events.ts';
import { type SqlTarget, type SqlWho, startSqlTarget, targetName } from '../helpers/targets.ts';

let target: SqlTarget;

beforeAll(async () => {
  target = await startSqlTarget();
});

afterEach(async () => {
  await target.closePools();
  if (target.standIns) {
    target.standIns.sql.faults.clear();
    const { sql } = target.standIns;
    await expect.poll(() => sql.connections()).toBe(0);
  }
});

afterAll(async () => {
  await target?.close();
});

const pool = (who: SqlWho, extra: Partial<SqlPoolOptions> = {}): SqlPool => target.pool(who, extra);

/** The stand-ins' fault API and identities, for the tests that need them (they skip on containers). */
const standIns = () => target.standIns ?? expect.fail('runs on the stand-ins only');
const onStandInsOnly = targetName() !== 'stand-ins';

const parcelRow = async (db: SqlPool, parcelId: string) =>
  (
    await db.query(
      'SELECT Status, StatusVersion, WeightKg, Sender FROM dbo.FixtureParcels WHERE ParcelId = @id',
      {
        id: { type: 'uniqueidentifier', value: parcelId },
      },
    )
  ).rows[0];

describe(`SQL writer through tedious on the ${targetName()}`, () => {
  it('applies migrations once: a second run changes nothing', async () => {
    const db = pool('operator');
    expect((await migrate(db, { dirs: testMigrationDirs })).applied).toEqual([]);
    const versions = await db.query('SELECT Version FROM dbo.SchemaMigrations ORDER BY Version');
    expect(versions.rows.map((r) => r.Version)).toEqual([1, 2, 3, 100, 900]);
  });

  it('refuses migrations to the worker, which has no DDL role', async () => {
    await expect(
      migrate(pool('worker'), { dirs: [new URL('../fixtures/ddl-migration/', import.meta.url)] }),
    ).rejects.toMatchObject({
      name: 'SqlError',
      code: 'PermissionDenied',
      number: 262,
    });
  });

  it('commits a batch and gives a redelivered message no second effect', async () => {
    const db = pool('worker');
    const writer = createSqlWriter({ db, handlers: parcels });
    const parcelId = randomUUID();
    const registered = registeredEvent(parcelId);
    const moving = statusEvent(parcelId, 'in-transit', 1);
    expect([...(await writer.writeBatch([registered, moving])).values()]).toEqual([
      { kind: 'complete' },
      { kind: 'complete' },
    ]);
    expect(await parcelRow(db, parcelId)).toEqual({
      Status: 'in-transit',
      StatusVersion: 1,
      WeightKg: 2.5,
      Sender: 'sender-1',
    });
    // The same message again (same id), carrying a newer version: the inbox makes it a no-op.
    const again = { ...moving, data: { parcelId, status: 'delivered', version: 2 } } as CloudEvent;
    expect((await writer.writeBatch([again])).get(moving.id)).toEqual({ kind: 'complete' });
    expect(await parcelRow(db, parcelId)).toMatchObject({ Status: 'in-transit', StatusVersion: 1 });
    const inbox = await db.query('SELECT COUNT(*) AS n FROM dbo.Inbox WHERE MessageId = @id', {
      id: { type: 'nvarchar', value: moving.id },
    });
    expect(inbox.rows[0]).toEqual({ n: 1 });
  });

  it('dead-letters the poison message of a batch of 100 and commits the other 99', async () => {
    const db = pool('worker');
    const writer = createSqlWriter({ db, handlers: parcels });
    const events = Array.from({ length: 100 }, () => registeredEvent(randomUUID()));
    const poison = events[37] as CloudEvent<{ weightKg: string }>;
    poison.data.weightKg = '0';
    const outcomes = await writer.writeBatch(events);
    expect(outcomes.get(poison.id)).toEqual({
      kind: 'deadLetter',
      reason: 'PermanentSqlError',
      description: expect.stringMatching(
        /^SQL error 547: The INSERT statement conflicted with the CHECK constraint "CK_FixtureParcels_WeightKg"/,
      ),
    });
    expect([...outcomes.values()].filter((o) => o.kind === 'complete')).toHaveLength(99);
    const ids = JSON.stringify(events.map((e) => e.id));
    const seen = await db.query(
      'SELECT COUNT(*) AS n FROM dbo.Inbox WHERE MessageId IN (SELECT value FROM OPENJSON(@ids))',
      { ids: { type: 'nvarchar', value: ids } },
    );
    expect(seen.rows[0]).toEqual({ n: 99 });
  });

  // The fault API is the stand-in's; a real server's deadlock cannot be had on demand.
  it.skipIf(onStandInsOnly)('abandons every message of a batch that meets a transient error', async () => {
    const db = pool('worker');
    const writer = createSqlWriter({ db, handlers: parcels });
    standIns().sql.faults.failStatements(/INSERT INTO dbo\.Inbox/, 1205);
    const events = [registeredEvent(randomUUID()), registeredEvent(randomUUID())];
    const outcomes = [...(await writer.writeBatch(events)).values()];
    expect(outcomes).toEqual([
      {
        kind: 'abandon',
        retryable: true,
        error: expect.objectContaining({ name: 'SqlError', code: 'Deadlock', transient: true, number: 1205 }),
      },
      { kind: 'abandon', retryable: true, error: expect.objectContaining({ code: 'Deadlock' }) },
    ]);
    expect(
      await parcelRow(db, (events[0] as CloudEvent<{ parcelId: string }>).data.parcelId),
    ).toBeUndefined();
  });

  it('recycles a connection once it is older than tokenMaxAgeMs', async () => {
    const db = pool('worker', { tokenMaxAgeMs: 300 });
    await db.query('SELECT 1 AS one');
    await db.query('SELECT 1 AS one');
    expect(db.stats().created).toBe(1);
    await new Promise((r) => setTimeout(r, 350));
    await db.query('SELECT 1 AS one');
    expect(db.stats()).toMatchObject({ created: 2, open: 1 });
  });

  // Entra tokens exist on the stand-ins only: the containers log in with SQL logins.
  it.skipIf(onStandInsOnly)(
    'logs in again when the server refuses an expired token, and the fresh token gets in',
    async () => {
      const { identity, users } = standIns();
      const worker = users.worker;
      const fresh = new ManagedIdentityCredential({ clientId: worker.clientId });
      const calls: string[] = [];
      const credential: TokenCredential = {
        async getToken(scopes) {
          calls.push(String(scopes));
          if (calls.length === 1) {
            // What a cached token looks like to the server once it has aged out.
            return {
              token: identity.issueToken(worker, 'https://database.windows.net/', -60),
              expiresOnTimestamp: Date.now() + 60_000,
            } satisfies AccessToken;
          }
          return fresh.getToken(scopes);
        },
      };
      const db = pool('worker', { authentication: { type: 'token-credential', options: { credential } } });
      expect((await db.query('SELECT USER_NAME() AS who')).rows).toEqual([{ who: worker.name }]);
      expect(calls).toHaveLength(2);
    },
  );
});
