import { readdir, readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { SqlClient } from './client.ts';
import { statement } from './statements.ts';

export type Migration = { version: number; name: string; sql: string };

const MIGRATION_FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** The product's migrations are numbered below this; a handler domain's from it up. */
export const firstDomainMigration = 100;

/**
 * The numbered migrations of `dirs`, in one sequence ordered by number: the first folder is the
 * product's (numbers below 0100), each other a handler domain's (0100 and up), as Flyway reads
 * several locations. A number used twice, or on the wrong side of 0100, stops it naming the files.
 */
export const loadMigrations = async (dirs: readonly URL[]): Promise<Migration[]> => {
  const byVersion = new Map<number, { migration: Migration; file: string }>();
  for (const [i, dir] of dirs.entries()) {
    for (const file of (await readdir(dir)).filter((f) => MIGRATION_FILE.test(f)).sort()) {
      const [, version, name] = MIGRATION_FILE.exec(file) as RegExpExecArray;
      const path = new URL(file, dir).pathname;
      const n = Number(version);
      if (i === 0 ? n >= firstDomainMigration : n < firstDomainMigration) {
        throw new Error(
          `${path}: ${i === 0 ? "the product's migrations are numbered below" : "a handler's migrations are numbered from"} ${String(firstDomainMigration).padStart(4, '0')}`,
        );
      }
      const taken = byVersion.get(n);
      if (taken) throw new Error(`two migrations are numbered ${version}: ${taken.file} and ${path}`);
      const sql = await readFile(new URL(file, dir), 'utf8');
      byVersion.set(n, { migration: { version: n, name: name as string, sql }, file: path });
    }
  }
  return [...byVersion.values()].map((v) => v.migration).sort((a, b) => a.version - b.version);
};

export type MigrateOptions = {
  /** Folders of numbered migrations: the handler registry's `migrationDirs`. */
  dirs: readonly URL[];
  /** @defaultValue no logging */
  logger?: Pick<Logger, 'info'>;
};

/**
 * Applies the migrations not yet recorded in dbo.SchemaMigrations, each in its own transaction
 * with its record, so a migration is applied entirely and once or not at all. Running it again
 * changes nothing. Needs db_ddladmin (and db_datareader/db_datawriter for the record).
 */
export const migrate = async (db: SqlClient, options: MigrateOptions): Promise<{ applied: Migration[] }> => {
  const migrations = await loadMigrations(options.dirs);
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
