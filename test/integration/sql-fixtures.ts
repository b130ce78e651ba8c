import { afterAll, beforeAll } from 'vitest';
import type { HandlerRegistry } from '../../src/handlers/registry.ts';
import { createSqlWriter, type SqlWriter } from '../../src/pipeline/sql-writer.ts';
import { type SqlClient, singleConnectionClient } from '../../src/sql/client.ts';
import { migrate } from '../../src/sql/migrate.ts';
import { testMigrationDirs } from '../fixtures/migrations.ts';
import { parcels } from '../fixtures/parcels/events.ts';
import { connectEngine } from '../stand-ins/sql/engine/connection.ts';
import { createPgliteEngine } from '../stand-ins/sql/engine/index.ts';
import type { SqlEngine } from '../stand-ins/sql/engine-api.ts';

export type EngineWriter = { engine: SqlEngine; db: SqlClient; writer: SqlWriter };

/**
 * The SQL writer on the engine directly, for the fixture domain unless `handlers` say otherwise (no TDS), migrated before the file's tests and closed after
 * them: for properties that write hundreds of batches. The wire is covered in sql-writer.test.ts.
 */
export function useEngineWriter(handlers: HandlerRegistry = parcels): EngineWriter {
  const ctx = {} as EngineWriter;
  beforeAll(async () => {
    const engine = await createPgliteEngine();
    const db = singleConnectionClient(await connectEngine(engine, 'dbo'));
    await migrate(db, { dirs: testMigrationDirs });
    Object.assign(ctx, { engine, db, writer: createSqlWriter({ db, handlers }) });
  });
  afterAll(async () => {
    await ctx.engine?.close();
  });
  return ctx;
}
