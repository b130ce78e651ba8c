import { describe, expect, it } from 'vitest';
import { checkSqlAccess } from '../../src/sql/access-check.ts';
import type { SqlClient } from '../../src/sql/client.ts';
import { SqlError } from '../../src/sql/errors.ts';
import { capturingLogger } from './consumer-fakes.ts';

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
    const denied = new SqlError("The SELECT permission was denied on the object 'Inbox'.", {
      code: 'PermissionDenied',
      transient: false,
      number: 229,
    });
    const db = database([denied]);
    await expect(checkSqlAccess(db, { ...context, transientRetryMs: 10_000 })).rejects.toBe(denied);
    expect(db.reads).toBe(1);
  });
});

const noInbox = () =>
  new SqlError("Invalid object name 'dbo.Inbox'.", {
    code: 'InvalidStatement',
    transient: false,
    number: 208,
  });
describe('the start-time SQL check before the migrations ran', () => {
  it('waits for the schema the migration job creates, says so once, and starts when it is there', async () => {
    const db = database([noInbox(), noInbox(), noInbox()]);
    const { lines, logger } = capturingLogger();
    await checkSqlAccess(db, { ...context, schemaWaitMs: 10_000, schemaPollMs: 10, logger });
    expect(db.reads).toBe(4);
    expect(lines.map((l) => l.level)).toEqual([40, 30]);
    expect(lines[0]?.msg).toMatch(/schema not there yet: waiting for the migrations/);
    expect(lines[1]?.msg).toMatch(/schema found/);
  });

  it('stops with SchemaNotMigrated and what to run once the wait is spent', async () => {
    const db = database(Array.from({ length: 1_000 }, noInbox));
    await expect(
      checkSqlAccess(db, { ...context, schemaWaitMs: 100, schemaPollMs: 20 }),
    ).rejects.toMatchObject({
      code: 'SchemaNotMigrated',
      message: expect.stringMatching(
        /dbo\.Inbox does not exist in database 'keyless' on db\.example: run the migrations/,
      ),
    });
    expect(db.reads).toBeGreaterThan(2);
  });

  it('stops waiting when start is aborted (a SIGTERM during start)', async () => {
    const db = database(Array.from({ length: 1_000 }, noInbox));
    const abort = new AbortController();
    const checking = checkSqlAccess(db, { ...context, schemaPollMs: 50, signal: abort.signal });
    setTimeout(() => abort.abort(new Error('SIGTERM during start')), 30);
    await expect(checking).rejects.toThrow();
    expect(db.reads).toBe(1);
  });
});
