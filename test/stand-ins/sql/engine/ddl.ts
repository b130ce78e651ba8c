import { randomBytes } from 'node:crypto';
import { SqlServerError } from '../engine-api.ts';
import {
  type Catalog,
  type ColumnInfo,
  type ConstraintInfo,
  type ConstraintKind,
  tableKey,
} from './catalog.ts';
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
import { notSupported, readType } from './types.ts';

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

/** SQL Server names unnamed constraints `PK__Orders__3213E83F…`; PostgreSQL needs a name up front to map errors back. */
const autoName = (prefix: string, table: string, column?: string): string =>
  `${prefix}__${table.slice(0, 12)}__${column ? `${column.slice(0, 8)}__` : ''}${randomBytes(8).toString('hex').toUpperCase()}`;

type Pending = { columns: ColumnInfo[]; constraints: ConstraintInfo[] };

const columnsIn = (
  tokens: readonly Token[],
  from: number,
  to: number,
  known: Map<string, string>,
): string[] => {
  const found = new Set<string>();
  for (let i = from; i < to; i++) {
    const t = tokens[i];
    if (isName(t) && known.has(nameOf(t).toLowerCase()))
      found.add(known.get(nameOf(t).toLowerCase()) as string);
  }
  return [...found];
};

const readConstraintTail = (
  ctx: TranslateContext,
  tokens: readonly Token[],
  at: number,
  end: number,
  name: string | undefined,
  table: string,
  column: string | undefined,
  pending: Pending,
  knownColumns: Map<string, string>,
): { sql: string; next: number } => {
  const t = tokens[at];
  const note = (kind: ConstraintKind, prefix: string, col?: string): string => {
    const n = name ?? autoName(prefix, table, col);
    pending.constraints.push({ name: n, kind, table, ...(col ? { column: col } : {}) });
    return `CONSTRAINT ${quoteIdent(n)} `;
  };
  let i = at + 1;
  const skipClustering = (): void => {
    if (isWord(tokens[i], 'CLUSTERED', 'NONCLUSTERED')) i++;
  };
  const columnList = (): string => {
    if (!isPunct(tokens[i], '(')) return '';
    const close = matchParen(tokens, i);
    const cols = splitCommas(tokens, i + 1, close).map(([a, b]) => {
      const c = nameOf(tokens[a]);
      // Key order (ASC/DESC) is physical in SQL Server; uniqueness does not depend on it.
      if (b - a > 1 && !(b - a === 2 && isWord(tokens[a + 1], 'ASC', 'DESC')))
        throw syntaxError(tokenText(tokens[a + 1]));
      return quoteIdent(c);
    });
    i = close + 1;
    return `(${cols.join(', ')})`;
  };
  if (isWord(t, 'PRIMARY') && isWord(tokens[at + 1], 'KEY')) {
    i = at + 2;
    skipClustering();
    return { sql: `${note('PRIMARY KEY', 'PK')}PRIMARY KEY ${columnList()}`, next: i };
  }
  if (isWord(t, 'UNIQUE')) {
    skipClustering();
    return { sql: `${note('UNIQUE KEY', 'UQ', column)}UNIQUE ${columnList()}`, next: i };
  }
  if (isWord(t, 'CHECK') && isPunct(tokens[i], '(')) {
    const close = matchParen(tokens, i);
    const cols = column ? [column] : columnsIn(tokens, i + 1, close, knownColumns);
    const sql = `${note('CHECK', 'CK', cols.length === 1 ? cols[0] : undefined)}CHECK (${emitRange(ctx, tokens, i + 1, close)})`;
    return { sql, next: close + 1 };
  }
  if (isWord(t, 'FOREIGN') && isWord(tokens[at + 1], 'KEY')) {
    i = at + 2;
    const cols = columnList();
    if (!isWord(tokens[i], 'REFERENCES')) throw syntaxError(tokenText(tokens[i]));
    const r = readReferences(ctx, tokens, i, end);
    return { sql: `${note('FOREIGN KEY', 'FK')}FOREIGN KEY ${cols} ${r.sql}`, next: r.next };
  }
  if (isWord(t, 'REFERENCES')) {
    const r = readReferences(ctx, tokens, at, end);
    return { sql: `${note('FOREIGN KEY', 'FK', column)}${r.sql}`, next: r.next };
  }
  throw syntaxError(tokenText(t));
};

const readReferences = (
  ctx: TranslateContext,
  tokens: readonly Token[],
  at: number,
  end: number,
): { sql: string; next: number } => {
  const { parts, next } = readMultipart(tokens, at + 1);
  const { schema, table } = resolveTable(ctx, parts);
  let i = next;
  let cols = '';
  if (isPunct(tokens[i], '(')) {
    const close = matchParen(tokens, i);
    cols = `(${splitCommas(tokens, i + 1, close)
      .map(([a]) => quoteIdent(nameOf(tokens[a])))
      .join(', ')})`;
    i = close + 1;
  }
  let actions = '';
  while (i < end && isWord(tokens[i], 'ON') && isWord(tokens[i + 1], 'DELETE', 'UPDATE')) {
    const event = (tokens[i + 1] as Token & { kind: 'word' }).upper;
    if (isWord(tokens[i + 2], 'CASCADE')) actions += ` ON ${event} CASCADE`;
    else if (isWord(tokens[i + 2], 'NO') && isWord(tokens[i + 3], 'ACTION')) {
      actions += ` ON ${event} NO ACTION`;
      i++;
    } else throw notSupported(`ON ${event} ${tokenText(tokens[i + 2])}`);
    i += 3;
  }
  return { sql: `REFERENCES ${quoteIdent(schema)}.${quoteIdent(table)} ${cols}${actions}`, next: i };
};

/** A column definition or a table constraint of CREATE TABLE / ALTER TABLE ADD. */
const tableItem = (
  ctx: TranslateContext,
  tokens: readonly Token[],
  from: number,
  to: number,
  table: string,
  pending: Pending,
  knownColumns: Map<string, string>,
): string => {
  let name: string | undefined;
  let i = from;
  if (isWord(tokens[i], 'CONSTRAINT')) {
    name = nameOf(tokens[i + 1]);
    i += 2;
  }
  if (isWord(tokens[i], 'PRIMARY', 'UNIQUE', 'CHECK', 'FOREIGN')) {
    const r = readConstraintTail(ctx, tokens, i, to, name, table, undefined, pending, knownColumns);
    if (r.next !== to) throw syntaxError(tokenText(tokens[r.next]));
    return r.sql;
  }
  if (name !== undefined) throw syntaxError(tokenText(tokens[i]));
  const column = nameOf(tokens[i]);
  const { type, next } = readType(tokens, i + 1);
  pending.columns.push({ name: column, type });
  const out = [quoteIdent(column), type.pg];
  i = next;
  while (i < to) {
    const t = tokens[i];
    let constraintName: string | undefined;
    if (isWord(t, 'NULL')) {
      out.push('NULL');
      i++;
      continue;
    }
    if (isWord(t, 'NOT') && isWord(tokens[i + 1], 'NULL')) {
      out.push('NOT NULL');
      i += 2;
      continue;
    }
    if (isWord(t, 'IDENTITY')) {
      let seed = '1';
      let step = '1';
      i++;
      if (isPunct(tokens[i], '(')) {
        const close = matchParen(tokens, i);
        const args = splitCommas(tokens, i + 1, close).map(([a, b]) => emitRange(ctx, tokens, a, b));
        seed = args[0] ?? '1';
        step = args[1] ?? '1';
        i = close + 1;
      }
      // ALWAYS: SQL Server refuses explicit values unless IDENTITY_INSERT is on, which is not emulated.
      out.push(`GENERATED ALWAYS AS IDENTITY (START WITH ${seed} INCREMENT BY ${step})`);
      continue;
    }
    if (isWord(t, 'CONSTRAINT')) {
      constraintName = nameOf(tokens[i + 1]);
      i += 2;
    }
    if (isWord(tokens[i], 'DEFAULT')) {
      // PostgreSQL defaults have no names; the name only matters to DROP CONSTRAINT, refused below.
      let end = i + 1;
      if (isPunct(tokens[end], '(')) end = matchParen(tokens, end) + 1;
      else end++;
      out.push(`DEFAULT ${emitRange(ctx, tokens, i + 1, end)}`);
      i = end;
      continue;
    }
    const r = readConstraintTail(ctx, tokens, i, to, constraintName, table, column, pending, knownColumns);
    out.push(r.sql);
    i = r.next;
  }
  return out.join(' ');
};

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
