import { randomBytes } from 'node:crypto';
import type { ColumnInfo, ConstraintInfo, ConstraintKind } from './catalog.ts';
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

/** SQL Server names unnamed constraints `PK__Orders__3213E83F…`; PostgreSQL needs a name up front to map errors back. */
const autoName = (prefix: string, table: string, column?: string): string =>
  `${prefix}__${table.slice(0, 12)}__${column ? `${column.slice(0, 8)}__` : ''}${randomBytes(8).toString('hex').toUpperCase()}`;

/** What a CREATE TABLE / ALTER TABLE ADD learns while translating, applied to the catalog only if it succeeds. */
export type Pending = { columns: ColumnInfo[]; constraints: ConstraintInfo[] };

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
export const tableItem = (
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
