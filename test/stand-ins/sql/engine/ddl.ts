import { SqlServerError } from '../engine-api.ts';
import { type Catalog, tableKey } from './catalog.ts';
import {
  isName,
  matchParen,
  nameOf,
  quoteIdent,
  readMultipart,
  resolveTable,
  splitCommas,
  type TranslateContext,
} from './context.ts';
import { emitRange } from './dml.ts';
import { isPunct, isWord, syntaxError, type Token, tokenText } from './lexer.ts';
import { type Pending, tableItem } from './table-item.ts';
import { notSupported } from './types.ts';

/** A translated DDL statement: its PostgreSQL text, who may run it, and what the catalog learns if it succeeds. */
export type DdlPlan = { sql: string; denied: SqlServerError; apply: (catalog: Catalog) => void };

const denied262 = (ctx: TranslateContext, what: string): SqlServerError =>
  new SqlServerError({
    number: 262,
    state: 1,
    severity: 14,
    message: `${what} permission denied in database '${ctx.database}'.`,
  });
const denied1088 = (name: string): SqlServerError =>
  new SqlServerError({
    number: 1088,
    state: 13,
    severity: 16,
    message: `Cannot find the object "${name}" because it does not exist or you do not have permissions.`,
  });

/** CREATE TABLE, CREATE INDEX, CREATE SCHEMA, ALTER TABLE, DROP TABLE, DROP INDEX. */
export const translateDdl = (ctx: TranslateContext, tokens: readonly Token[]): DdlPlan => {
  const [first, second] = tokens;
  const pending: Pending = { columns: [], constraints: [] };
  if (isWord(first, 'CREATE') && isWord(second, 'SCHEMA')) {
    const name = nameOf(tokens[2]);
    if (tokens.length > 3) throw notSupported(tokenText(tokens[3]));
    return {
      sql: `CREATE SCHEMA ${quoteIdent(name)}`,
      denied: denied262(ctx, 'CREATE SCHEMA'),
      apply: () => {},
    };
  }
  if (isWord(first, 'CREATE') && isWord(second, 'TABLE')) {
    const { parts, next } = readMultipart(tokens, 2);
    const { schema, table } = resolveTable(ctx, parts);
    if (!isPunct(tokens[next], '(')) throw syntaxError(tokenText(tokens[next]));
    const close = matchParen(tokens, next);
    const rest = tokens.slice(close + 1);
    // Filegroups are storage placement only; every other table option changes behaviour and is refused.
    if (
      rest.length > 0 &&
      !(
        rest.length === 2 &&
        isWord(rest[0], 'ON') &&
        isName(rest[1]) &&
        nameOf(rest[1]).toUpperCase() === 'PRIMARY'
      )
    ) {
      throw notSupported(tokenText(rest[0]));
    }
    const items = splitCommas(tokens, next + 1, close);
    const known = new Map<string, string>();
    for (const [a] of items)
      if (!isWord(tokens[a], 'CONSTRAINT', 'PRIMARY', 'UNIQUE', 'CHECK', 'FOREIGN'))
        known.set(nameOf(tokens[a]).toLowerCase(), nameOf(tokens[a]));
    const defs = items.map(([a, b]) => tableItem(ctx, tokens, a, b, table, pending, known));
    return {
      sql: `CREATE TABLE ${quoteIdent(schema)}.${quoteIdent(table)} (${defs.join(', ')})`,
      denied: denied262(ctx, 'CREATE TABLE'),
      apply: (catalog) => {
        const columns = new Map(pending.columns.map((c) => [c.name.toLowerCase(), c]));
        catalog.tables.set(tableKey(schema, table), { schema, name: table, columns });
        for (const c of pending.constraints) catalog.constraints.set(c.name.toLowerCase(), c);
        catalog.names.set(table.toLowerCase(), table);
        for (const c of pending.columns) catalog.names.set(c.name.toLowerCase(), c.name);
      },
    };
  }
  let i = 1;
  let unique = false;
  if (isWord(first, 'CREATE') && isWord(tokens[i], 'UNIQUE')) {
    unique = true;
    i++;
  }
  if (isWord(first, 'CREATE') && isWord(tokens[i], 'CLUSTERED', 'NONCLUSTERED')) i++;
  if (isWord(first, 'CREATE') && isWord(tokens[i], 'INDEX')) {
    const index = nameOf(tokens[i + 1]);
    if (!isWord(tokens[i + 2], 'ON')) throw syntaxError(tokenText(tokens[i + 2]));
    const { parts, next } = readMultipart(tokens, i + 3);
    const { schema, table } = resolveTable(ctx, parts);
    if (!isPunct(tokens[next], '(')) throw syntaxError(tokenText(tokens[next]));
    const close = matchParen(tokens, next);
    const cols = splitCommas(tokens, next + 1, close).map(
      ([a, b]) =>
        `${quoteIdent(nameOf(tokens[a]))}${b - a === 2 ? ` ${tokenText(tokens[a + 1]).toUpperCase()}` : ''}`,
    );
    let j = close + 1;
    let tail = '';
    if (isWord(tokens[j], 'INCLUDE') && isPunct(tokens[j + 1], '(')) {
      const end = matchParen(tokens, j + 1);
      tail += ` INCLUDE (${splitCommas(tokens, j + 2, end)
        .map(([a]) => quoteIdent(nameOf(tokens[a])))
        .join(', ')})`;
      j = end + 1;
    }
    if (isWord(tokens[j], 'WHERE')) {
      tail += ` WHERE ${emitRange(ctx, tokens, j + 1, tokens.length)}`;
      j = tokens.length;
    }
    if (j < tokens.length) throw notSupported(tokenText(tokens[j]));
    // SQL Server scopes index names to their table, PostgreSQL to the schema: qualify with the table.
    const pgName = `${table}.${index}`.slice(0, 63);
    return {
      sql: `CREATE ${unique ? 'UNIQUE ' : ''}INDEX ${quoteIdent(pgName)} ON ${quoteIdent(schema)}.${quoteIdent(table)} (${cols.join(', ')})${tail}`,
      denied: denied1088(`${schema}.${table}`),
      apply: (catalog) => {
        catalog.constraints.set(pgName.toLowerCase(), { name: index, kind: 'INDEX', table });
      },
    };
  }
  if (isWord(first, 'DROP') && isWord(second, 'INDEX')) {
    const index = nameOf(tokens[2]);
    if (!isWord(tokens[3], 'ON')) throw notSupported('DROP INDEX without ON');
    const { parts, next } = readMultipart(tokens, 4);
    if (next !== tokens.length) throw syntaxError(tokenText(tokens[next]));
    const { schema, table } = resolveTable(ctx, parts);
    return {
      sql: `DROP INDEX ${quoteIdent(schema)}.${quoteIdent(`${table}.${index}`.slice(0, 63))}`,
      denied: denied1088(`${schema}.${table}`),
      apply: () => {},
    };
  }
  if (isWord(first, 'DROP') && isWord(second, 'TABLE')) {
    let j = 2;
    let ifExists = '';
    if (isWord(tokens[2], 'IF') && isWord(tokens[3], 'EXISTS')) {
      ifExists = 'IF EXISTS ';
      j = 4;
    }
    const names = splitCommas(tokens, j, tokens.length).map(([a, b]) => {
      const { parts, next } = readMultipart(tokens, a);
      if (next !== b) throw syntaxError(tokenText(tokens[next]));
      return resolveTable(ctx, parts);
    });
    const display = names.map((n) => `${n.schema}.${n.table}`).join(', ');
    return {
      sql: `DROP TABLE ${ifExists}${names.map((n) => `${quoteIdent(n.schema)}.${quoteIdent(n.table)}`).join(', ')}`,
      denied: new SqlServerError({
        number: 3701,
        state: 20,
        severity: 14,
        message: `Cannot drop the table '${display}', because it does not exist or you do not have permission.`,
      }),
      apply: (catalog) => {
        for (const n of names) catalog.tables.delete(tableKey(n.schema, n.table));
      },
    };
  }
  if (isWord(first, 'ALTER') && isWord(second, 'TABLE')) {
    const { parts, next } = readMultipart(tokens, 2);
    const { schema, table } = resolveTable(ctx, parts);
    const target = `${quoteIdent(schema)}.${quoteIdent(table)}`;
    const denied = denied1088(`${schema}.${table}`);
    const action = tokens[next];
    const known = new Map<string, string>();
    let sql: string;
    if (isWord(action, 'ADD')) {
      const items = splitCommas(tokens, next + 1, tokens.length).map(([a, b]) => {
        const item = tableItem(ctx, tokens, a, b, table, pending, known);
        return isWord(tokens[a], 'CONSTRAINT', 'PRIMARY', 'UNIQUE', 'CHECK', 'FOREIGN')
          ? `ADD ${item}`
          : `ADD COLUMN ${item}`;
      });
      sql = `ALTER TABLE ${target} ${items.join(', ')}`;
    } else if (isWord(action, 'DROP') && isWord(tokens[next + 1], 'COLUMN', 'CONSTRAINT')) {
      const kind = (tokens[next + 1] as Token & { kind: 'word' }).upper;
      const names = splitCommas(tokens, next + 2, tokens.length).map(
        ([a]) => `DROP ${kind} ${quoteIdent(nameOf(tokens[a]))}`,
      );
      sql = `ALTER TABLE ${target} ${names.join(', ')}`;
    } else throw notSupported(`ALTER TABLE ${tokenText(action)}`);
    return {
      sql,
      denied,
      apply: (catalog) => {
        const info = catalog.tables.get(tableKey(schema, table));
        for (const c of pending.columns) {
          info?.columns.set(c.name.toLowerCase(), c);
          catalog.names.set(c.name.toLowerCase(), c.name);
        }
        for (const c of pending.constraints) catalog.constraints.set(c.name.toLowerCase(), c);
      },
    };
  }
  throw notSupported(`${tokenText(first)} ${tokenText(second)}`.trim());
};
