import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../src/cloudevents/cloud-event.ts';
import { registeredEvent, statusEvent } from '../fixtures/parcels/events.ts';
import { useEngineWriter } from './sql-fixtures.ts';

const sql = useEngineWriter();

type Kind = 'registered' | 'status' | 'poisonRegistered' | 'poisonStatus' | 'unknownType';

/**
 * An event of each kind for a fresh parcel. The poison ones reach the writer as a bug or a schema
 * change would let them: the database refuses them (its CHECK constraints).
 */
const eventOf = (kind: Kind): CloudEvent => {
  const parcelId = randomUUID();
  switch (kind) {
    case 'registered':
      return registeredEvent(parcelId);
    case 'status':
      return statusEvent(parcelId, 'delivered', 1);
    case 'poisonRegistered': {
      const e = registeredEvent(parcelId);
      return { ...e, data: { ...(e.data as object), weightKg: '0' } };
    }
    case 'poisonStatus':
      return statusEvent(parcelId, 'delivered', -1);
    case 'unknownType':
      return { ...statusEvent(parcelId, 'delivered', 1), type: 'com.example.unknown' };
  }
};

const parcelIdOf = (e: CloudEvent) => (e.data as { parcelId: string }).parcelId;

const inInbox = async (ids: readonly string[]): Promise<Set<string>> => {
  const r = await sql.db.query(
    "SELECT i.MessageId FROM dbo.Inbox AS i WHERE i.MessageId IN (SELECT j.v FROM OPENJSON(@ids) WITH (v NVARCHAR(128) '$') AS j)",
    { ids: { type: 'nvarchar', value: JSON.stringify(ids) } },
  );
  return new Set(r.rows.map((row) => String(row.MessageId)));
};

const parcelsOf = async (parcelIds: readonly string[]): Promise<Set<string>> => {
  const r = await sql.db.query(
    "SELECT p.ParcelId FROM dbo.FixtureParcels AS p WHERE p.ParcelId IN (SELECT j.v FROM OPENJSON(@ids) WITH (v UNIQUEIDENTIFIER '$') AS j)",
    { ids: { type: 'nvarchar', value: JSON.stringify(parcelIds) } },
  );
  return new Set(r.rows.map((row) => String(row.ParcelId).toLowerCase()));
};

const batchPlan = fc.record({
  kinds: fc.array(
    fc.constantFrom<Kind>('registered', 'status', 'poisonRegistered', 'poisonStatus', 'unknownType'),
    {
      minLength: 1,
      maxLength: 12,
    },
  ),
  // Indices of events repeated inside the batch (a redelivery while the first is still in flight).
  repeats: fc.array(fc.nat(), { maxLength: 4 }),
  // Valid events already committed by an earlier batch, delivered again.
  redelivered: fc.nat({ max: 3 }),
  seed: fc.integer(),
});

describe('the SQL writer on batches mixing valid, poison and duplicate events', () => {
  it('gives each event exactly one outcome and commits exactly the valid ones', async () => {
    await fc.assert(
      fc.asyncProperty(batchPlan, async (plan) => {
        const earlier = Array.from({ length: plan.redelivered }, () => eventOf('registered'));
        if (earlier.length > 0) await sql.writer.writeBatch(earlier);
        const fresh = plan.kinds.map((kind) => ({ kind, event: eventOf(kind) }));
        const batch = [
          ...fresh.map((f) => f.event),
          ...plan.repeats.map((r) => (fresh[r % fresh.length] as (typeof fresh)[number]).event),
          ...earlier,
        ];
        // A deterministic shuffle, so poison and duplicates land anywhere in the batch.
        const order = fc.sample(
          fc.shuffledSubarray(batch, { minLength: batch.length, maxLength: batch.length }),
          {
            seed: plan.seed,
            numRuns: 1,
          },
        )[0] as CloudEvent[];

        const outcomes = await sql.writer.writeBatch(order);

        const uniqueIds = new Set(batch.map((e) => e.id));
        expect(new Set(outcomes.keys())).toEqual(uniqueIds);
        for (const { kind, event } of fresh) {
          const outcome = outcomes.get(event.id);
          if (kind === 'registered' || kind === 'status') expect(outcome).toEqual({ kind: 'complete' });
          else if (kind === 'unknownType')
            expect(outcome).toMatchObject({ kind: 'deadLetter', reason: 'UnknownType' });
          else expect(outcome).toMatchObject({ kind: 'deadLetter', reason: 'PermanentSqlError' });
        }
        for (const e of earlier) expect(outcomes.get(e.id)).toEqual({ kind: 'complete' });

        const valid = [
          ...fresh.filter((f) => f.kind === 'registered' || f.kind === 'status').map((f) => f.event),
          ...earlier,
        ];
        expect(await inInbox([...uniqueIds])).toEqual(new Set(valid.map((e) => e.id)));
        expect(await parcelsOf(batch.map(parcelIdOf))).toEqual(
          new Set(valid.map((e) => parcelIdOf(e).toLowerCase())),
        );
      }),
      { numRuns: 40 },
    );
  });
});
