import { readdir, readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { SqlClient } from './client.ts';
import { statement } from './statements.ts';

export type Migration = { version: number; name: string; sql: string };

const MIGRATION_FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** The numbered migrations in `dir` (default: ./migrations beside this file), in order. */
export const loadMigrations = async (
  dir: URL = new URL('./migrations/', import.meta.url),
): Promise<Migration[]> => {
  const files = (await readdir(dir)).filter((f) => MIGRATION_FILE.test(f)).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const [, version, name] = MIGRATION_FILE.exec(file) as RegExpExecArray;
    migrations.push({
      version: Number(version),
      name: name as string,
      sql: await readFile(new URL(file, dir), 'utf8'),
    });
  }
  const versions = migrations.map((m) => m.version);
  if (new Set(versions).size !== versions.length)
    throw new Error(`Two migrations share a number in ${dir.pathname}`);
  return migrations;
};

export type MigrateOptions = {
  /** @defaultValue no logging */
  logger?: Pick<Logger, 'info'>;
  /** @defaultValue loadMigrations() */
  migrations?: readonly Migration[];
};

/**
 * Applies the migrations not yet recorded in dbo.SchemaMigrations, each in its own transaction
 * with its record, so a migration is applied entirely and once or not at all. Running it again
 * changes nothing. Needs db_ddladmin (and db_datareader/db_datawriter for the record).
 */
export const migrate = async (
  db: SqlClient,
  options: MigrateOptions = {},
): Promise<{ applied: Migration[] }> => {
  const migrations = options.migrations ?? (await loadMigrations());
  await db.query(statement('ensure-schema-migrations'));
  const applied: Migration[] = [];
  for (const m of migrations) {
    const done = await db.transaction(async (tx) => {
      const seen = await tx.query(statement('select-applied-migration'), {
        version: { type: 'int', value: m.version },
      });
      if (seen.rows.length > 0) return false;
      await tx.query(m.sql);
      await tx.query(statement('insert-schema-migration'), {
        version: { type: 'int', value: m.version },
        name: { type: 'nvarchar', value: m.name },
      });
      return true;
    });
    if (done) {
      applied.push(m);
      options.logger?.info({ version: m.version, migration: m.name }, 'migration applied');
    }
  }
  if (applied.length === 0) options.logger?.info({ migrations: migrations.length }, 'schema is up to date');
  return { applied };
};
