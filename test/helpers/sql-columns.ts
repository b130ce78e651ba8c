import { readdirSync, readFileSync } from 'node:fs';

/** A column type as the migrations declare it, e.g. `{ name: 'NVARCHAR', args: ['128'] }`. */
export type ColumnType = { name: string; args: readonly string[] };

const sqlDir = new URL('../../src/sql/', import.meta.url);
const columnLine = /^\s*(\w+)\s+([A-Z0-9]+)(?:\s*\(([^)]*)\))?/;
const notColumns = new Set(['CONSTRAINT', 'PRIMARY', 'UNIQUE', 'CHECK', 'FOREIGN', 'INDEX']);

const parseType = (name: string, args: string | undefined): ColumnType => ({
  name,
  args: args === undefined ? [] : args.split(',').map((a) => a.trim()),
});

/**
 * `dbo.Table.Column` → type, from every `CREATE TABLE` and `ALTER TABLE … ADD` of the numbered
 * migrations. A column line the parser cannot read fails, so a new migration cannot slip past.
 */
export function migrationColumns(): Map<string, ColumnType> {
  const columns = new Map<string, ColumnType>();
  const dir = new URL('migrations/', sqlDir);
  for (const file of readdirSync(dir)
    .filter((f) => /^\d+_.*\.sql$/.test(f))
    .sort()) {
    const sql = readFileSync(new URL(file, dir), 'utf8').replace(/--[^\n]*/g, '');
    for (const [, table = '', body = ''] of sql.matchAll(/CREATE TABLE (dbo\.\w+) \(([\s\S]*?)\n\);/g)) {
      for (const line of body.split('\n').filter((l) => l.trim() !== '')) {
        const m = columnLine.exec(line);
        if (!m) throw new Error(`${file}: cannot read the column line "${line.trim()}"`);
        const [, column = '', type = '', args] = m;
        if (notColumns.has(column.toUpperCase())) continue;
        columns.set(`${table}.${column}`, parseType(type, args));
      }
    }
    for (const [, table = '', column = '', type = '', args] of sql.matchAll(
      /ALTER TABLE (dbo\.\w+) ADD (\w+) ([A-Z0-9]+)(?:\s*\(([^)]*)\))?/g,
    )) {
      columns.set(`${table}.${column}`, parseType(type, args));
    }
  }
  return columns;
}

/** One `OPENJSON … WITH` column of a statement, and the table column it is written to or compared with. */
export type OpenJsonColumn = { statement: string; target: string; type: ColumnType };

// A WITH column whose name differs from the table column it lands in.
const renamed: Readonly<Record<string, string>> = { Version: 'StatusVersion' };

/** Every `OPENJSON … WITH` column of src/sql/statements, with the table it belongs to. */
export function openJsonColumns(): OpenJsonColumn[] {
  const dir = new URL('statements/', sqlDir);
  const found: OpenJsonColumn[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql'))) {
    const sql = readFileSync(new URL(file, dir), 'utf8').replace(/--[^\n]*/g, '');
    const table = /(?:INSERT INTO|UPDATE|FROM) (dbo\.\w+)/.exec(sql)?.[1];
    for (const [, body = ''] of sql.matchAll(/OPENJSON\([^)]*\) WITH \(([\s\S]*?)\) AS/g)) {
      for (const entry of body.split(/,\s*\n/)) {
        const m = /^\s*(\w+)\s+([A-Z0-9]+)(?:\s*\(([^)]*)\))?\s+'\$/.exec(entry);
        if (!m || !table) throw new Error(`${file}: cannot read the OPENJSON column "${entry.trim()}"`);
        const [, column = '', type = '', args] = m;
        found.push({
          statement: file,
          target: `${table}.${renamed[column] ?? column}`,
          type: parseType(type, args),
        });
      }
    }
  }
  return found;
}

export const formatType = (t: ColumnType): string =>
  t.args.length ? `${t.name}(${t.args.join(',')})` : t.name;
