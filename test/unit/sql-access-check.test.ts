import { describe, expect, it } from 'vitest';
import { checkSqlAccess } from '../../src/sql/access-check.ts';
import type { SqlClient } from '../../src/sql/client.ts';
import { SqlError } from '../../src/sql/errors.ts';

/** A database whose inbox read fails with `failures` in turn, then answers. */
const database = (failures: SqlError[]): SqlClient & { reads: number } => {
  const client = {
    reads: 0,
    async query() {
      client.reads++;
      const next = failures.shift();
      if (next) throw next;
      return { rows: [], rowCount: 0 };
    },
    transaction: () => Promise.reject(new Error('not used')),
  };
  return client;
};
const context = { server: 'db.example', database: 'keyless', identity: undefined };
const unavailable = () =>
  new SqlError('Database is not currently available.', {
    code: 'Unavailable',
    transient: true,
    number: 40613,
  });

describe('the start-time SQL check', () => {
  it('waits out a transient failure of the database, as a replica started during a failover must', async () => {
    const db = database([unavailable(), unavailable()]);
    await checkSqlAccess(db, { ...context, transientRetryMs: 10_000 });
    expect(db.reads).toBe(3);
  });

  it('gives up with the transient error once its time is spent', async () => {
    const db = database(Array.from({ length: 50 }, unavailable));
    await expect(checkSqlAccess(db, { ...context, transientRetryMs: 300 })).rejects.toMatchObject({
      code: 'Unavailable',
    });
  });

  it('does not retry a permanent failure', async () => {
    const missing = new SqlError("Invalid object name 'dbo.Inbox'.", {
      code: 'InvalidStatement',
      transient: false,
      number: 208,
    });
    const db = database([missing]);
    await expect(checkSqlAccess(db, { ...context, transientRetryMs: 10_000 })).rejects.toBe(missing);
    expect(db.reads).toBe(1);
  });
});
