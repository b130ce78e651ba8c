import { readdirSync, readFileSync } from 'node:fs';

/** A column type as the migrations declare it, e.g. `{ name: 'NVARCHAR', args: ['128'] }`. */
export type ColumnType = { name: string; args: readonly string[] };

/** A table column: its type, and whether SQL Server fills it when no value is given. */
export type Column = { type: ColumnType; serverDefault: boolean };

const columnLine = /^\s*(\w+)\s+([A-Z0-9]+)(?:\s*\(([^)]*)\))?/;
const notColumns = new Set(['CONSTRAINT', 'PRIMARY', 'UNIQUE', 'CHECK', 'FOREIGN', 'INDEX']);

const parseType = (name: string, args: string | undefined): ColumnType => ({
  name,
  args: args === undefined ? [] : args.split(',').map((a) => a.trim()),
});

const sqlFiles = (dir: URL, pattern: RegExp): string[] =>
  readdirSync(dir)
    .filter((f) => pattern.test(f))
    .sort();

const withoutComments = (sql: string): string => sql.replace(/--[^\n]*/g, '');

/**
 * `dbo.Table.Column` → column, from every `CREATE TABLE` and `ALTER TABLE … ADD` of the numbered
 * migrations in `dir`. A column line the parser cannot read fails, so a new migration cannot slip past.
 */
export function migrationColumns(dir: URL): Map<string, Column> {
  const columns = new Map<string, Column>();
  for (const file of sqlFiles(dir, /^\d+_.*\.sql$/)) {
    const sql = withoutComments(readFileSync(new URL(file, dir), 'utf8'));
    for (const [, table = '', body = ''] of sql.matchAll(/CREATE TABLE (dbo\.\w+) \(([\s\S]*?)\n\);/g)) {
      for (const line of body.split('\n').filter((l) => l.trim() !== '')) {
        const m = columnLine.exec(line);
        if (!m) throw new Error(`${file}: cannot read the column line "${line.trim()}"`);
        const [, column = '', type = '', args] = m;
        if (notColumns.has(column.toUpperCase())) continue;
        columns.set(`${table}.${column}`, {
          type: parseType(type, args),
          serverDefault: /\bDEFAULT\b/i.test(line),
        });
      }
    }
    for (const [, table = '', column = '', type = '', args] of sql.matchAll(
      /ALTER TABLE (dbo\.\w+) ADD (\w+) ([A-Z0-9]+)(?:\s*\(([^)]*)\))?/g,
    )) {
      columns.set(`${table}.${column}`, { type: parseType(type, args), serverDefault: false });
    }
  }
  return columns;
}

/** One `OPENJSON … WITH` column of a statement: the JSON path it reads and the table it writes or compares. */
export type OpenJsonColumn = {
  statement: string;
  table: string;
  column: string;
  path: string;
  type: ColumnType;
};

/** Every `OPENJSON … WITH` column of the `.sql` files named `names` in `dir`. */
export function openJsonColumns(dir: URL, names: readonly string[]): OpenJsonColumn[] {
  const found: OpenJsonColumn[] = [];
  for (const name of names) {
    const file = `${name}.sql`;
    const sql = withoutComments(readFileSync(new URL(file, dir), 'utf8'));
    const table = /(?:INSERT INTO|UPDATE|FROM) (dbo\.\w+)/.exec(sql)?.[1];
    for (const [, body = ''] of sql.matchAll(/OPENJSON\([^)]*\) WITH \(([\s\S]*?)\) AS/g)) {
      for (const entry of body.split(/,\s*\n/)) {
        const m = /^\s*(\w+)\s+([A-Z0-9]+)(?:\s*\(([^)]*)\))?\s+'\$\.?([\w.]*)'/.exec(entry);
        if (!m || !table) throw new Error(`${file}: cannot read the OPENJSON column "${entry.trim()}"`);
        const [, column = '', type = '', args, path = ''] = m;
        found.push({ statement: file, table, column, path, type: parseType(type, args) });
      }
    }
  }
  return found;
}

export const formatType = (t: ColumnType): string =>
  t.args.length ? `${t.name}(${t.args.join(',')})` : t.name;
