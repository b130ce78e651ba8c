import type { Catalog } from './catalog.ts';
import {
  type Access,
  type DeclaredParam,
  nameOf,
  type ParamSource,
  type TranslateContext,
} from './context.ts';
import { type DdlPlan, translateDdl } from './ddl.ts';
import { emitRange } from './dml.ts';
import { isPunct, isWord, splitStatements, syntaxError, type Token, tokenize, tokenText } from './lexer.ts';
import { notSupported } from './types.ts';

export type QueryPlan = {
  kind: 'query';
  sql: string;
  params: ParamSource[];
  untyped: Set<number>;
  access: Access[];
  names: Map<string, string>;
  ddl?: DdlPlan;
};

/** One T-SQL statement, ready to run: PostgreSQL text, or an action the engine performs itself. */
export type Plan =
  | QueryPlan
  | { kind: 'noop' }
  | { kind: 'begin' }
  | { kind: 'commit' }
  | { kind: 'rollback' }
  | { kind: 'xactAbort'; on: boolean }
  | { kind: 'createUser'; name: string }
  | { kind: 'dropUser'; name: string; ifExists: boolean }
  | { kind: 'alterRole'; role: string; member: string; add: boolean }
  | { kind: 'if'; cond: QueryPlan; body: Plan };

export type TranslateOptions = {
  database: string;
  user: string;
  catalog: Catalog;
  declared: Map<string, DeclaredParam>;
  inTransaction: boolean;
};

/** A fresh translation context: one per statement, or per bulk-load target. */
export const newContext = (o: TranslateOptions): TranslateContext => ({
  ...o,
  params: [],
  untyped: new Set(),
  access: [],
  names: new Map(),
  ctes: new Set(),
  seq: 0,
});

const words = (tokens: readonly Token[], from: number): string =>
  tokens
    .slice(from)
    .map((t) => (t.kind === 'word' ? t.upper : tokenText(t).toUpperCase()))
    .join(' ');

/**
 * Session options tedious and other drivers send after login. Each is accepted only with the
 * value whose behaviour the engine has (ANSI semantics, us_english, mdy): any other value changes
 * results in ways PostgreSQL would not reproduce, so it is refused.
 */
const setOption = (tokens: readonly Token[]): Plan => {
  const text = words(tokens, 1);
  const onOff = /^([A-Z_]+(?: , [A-Z_]+)*) (ON|OFF)$/.exec(text);
  if (onOff) {
    const names = (onOff[1] as string).split(' , ');
    const on = onOff[2] === 'ON';
    for (const name of names) {
      switch (name) {
        case 'ANSI_NULLS':
        case 'ANSI_NULL_DFLT_ON':
        case 'ANSI_PADDING':
        case 'ANSI_WARNINGS':
        case 'CONCAT_NULL_YIELDS_NULL':
        case 'QUOTED_IDENTIFIER':
          if (!on) throw notSupported(`SET ${name} OFF`);
          break;
        case 'NUMERIC_ROUNDABORT':
        case 'IMPLICIT_TRANSACTIONS':
          if (on) throw notSupported(`SET ${name} ON`);
          break;
        case 'ARITHABORT':
        case 'CURSOR_CLOSE_ON_COMMIT':
        case 'NOCOUNT':
          break;
        case 'XACT_ABORT':
          if (names.length > 1) throw notSupported('SET XACT_ABORT in a list');
          return { kind: 'xactAbort', on };
        default:
          throw notSupported(`SET ${name}`);
      }
    }
    return { kind: 'noop' };
  }
  if (
    /^TEXTSIZE -?\d+$/.test(text) ||
    /^LOCK_TIMEOUT -?\d+$/.test(text) ||
    /^DEADLOCK_PRIORITY (LOW|NORMAL|HIGH|-?\d+)$/.test(text)
  ) {
    return { kind: 'noop' };
  }
  if (
    text === 'LANGUAGE US_ENGLISH' ||
    text === 'DATEFORMAT MDY' ||
    text === 'DATEFIRST 7' ||
    text === 'ROWCOUNT 0'
  )
    return { kind: 'noop' };
  // Every transaction runs alone in the engine, so each level is met by construction (see dml.ts).
  if (
    /^TRANSACTION ISOLATION LEVEL (READ UNCOMMITTED|READ COMMITTED|REPEATABLE READ|SERIALIZABLE|SNAPSHOT)$/.test(
      text,
    )
  ) {
    return { kind: 'noop' };
  }
  throw notSupported(`SET ${text}`);
};

const STATEMENT_START = new Set([
  'CREATE',
  'ALTER',
  'DROP',
  'INSERT',
  'UPDATE',
  'DELETE',
  'SELECT',
  'SET',
  'BEGIN',
  'IF',
  'WITH',
]);

const query = (ctx: TranslateContext, sql: string, ddl?: DdlPlan): QueryPlan => ({
  kind: 'query',
  sql,
  params: ctx.params,
  untyped: ctx.untyped,
  access: ctx.access,
  names: ctx.names,
  ...(ddl ? { ddl } : {}),
});

const translateStatement = (o: TranslateOptions, tokens: Token[]): Plan => {
  const [first, second] = tokens;
  if (first?.kind !== 'word') throw syntaxError(tokenText(first));
  const ctx = newContext(o);
  switch (first.upper) {
    case 'SELECT':
    case 'INSERT':
    case 'UPDATE':
    case 'DELETE':
    case 'WITH':
      return query(ctx, emitRange(ctx, tokens, 0, tokens.length));
    case 'SET':
      return setOption(tokens);
    case 'BEGIN':
      if (isWord(second, 'TRAN', 'TRANSACTION') && tokens.length <= 3) return { kind: 'begin' };
      throw notSupported(`BEGIN ${tokenText(second)}`.trim());
    case 'COMMIT':
    case 'ROLLBACK':
      if (tokens.length === 1 || (isWord(second, 'TRAN', 'TRANSACTION', 'WORK') && tokens.length <= 3)) {
        return { kind: first.upper === 'COMMIT' ? 'commit' : 'rollback' };
      }
      throw syntaxError(tokenText(second));
    case 'IF': {
      let depth = 0;
      let start = -1;
      for (let i = 1; i < tokens.length; i++) {
        const t = tokens[i];
        if (isPunct(t, '(')) depth++;
        else if (isPunct(t, ')')) depth--;
        else if (depth === 0 && t?.kind === 'word' && STATEMENT_START.has(t.upper) && i > 1) {
          start = i;
          break;
        }
      }
      if (start < 0) throw syntaxError(tokenText(tokens[tokens.length - 1]));
      if (isWord(tokens[start], 'BEGIN') && !isWord(tokens[start + 1], 'TRAN', 'TRANSACTION'))
        throw notSupported('IF … BEGIN … END');
      if (tokens.some((t) => isWord(t, 'ELSE')) && !tokens.some((t) => isWord(t, 'CASE')))
        throw notSupported('IF … ELSE');
      const cond = query(ctx, `SELECT CASE WHEN ${emitRange(ctx, tokens, 1, start)} THEN 1 ELSE 0 END`);
      return { kind: 'if', cond, body: translateStatement(o, tokens.slice(start)) };
    }
    case 'CREATE':
      if (isWord(second, 'USER')) {
        const name = nameOf(tokens[2]);
        const rest = words(tokens, 3);
        if (rest === 'FROM EXTERNAL PROVIDER' || /^FROM EXTERNAL PROVIDER WITH OBJECT_ID = /.test(rest))
          return { kind: 'createUser', name };
        throw notSupported(`CREATE USER … ${rest}`);
      }
      return withDdl(ctx, tokens);
    case 'DROP':
      if (isWord(second, 'USER')) {
        const ifExists = isWord(tokens[2], 'IF') && isWord(tokens[3], 'EXISTS');
        const at = ifExists ? 4 : 2;
        if (tokens.length !== at + 1) throw syntaxError(tokenText(tokens[at + 1]));
        return { kind: 'dropUser', name: nameOf(tokens[at]), ifExists };
      }
      return withDdl(ctx, tokens);
    case 'ALTER':
      if (isWord(second, 'ROLE')) {
        const role = nameOf(tokens[2]);
        const action = words(tokens, 3).split(' ').slice(0, 2).join(' ');
        if ((action === 'ADD MEMBER' || action === 'DROP MEMBER') && tokens.length === 6) {
          return { kind: 'alterRole', role, member: nameOf(tokens[5]), add: action === 'ADD MEMBER' };
        }
        throw notSupported(`ALTER ROLE … ${words(tokens, 3)}`);
      }
      return withDdl(ctx, tokens);
    default:
      throw notSupported(first.upper);
  }
};

const withDdl = (ctx: TranslateContext, tokens: Token[]): QueryPlan => {
  const ddl = translateDdl(ctx, tokens);
  return query(ctx, ddl.sql, ddl);
};

/**
 * Translates a batch. The whole batch is translated before anything runs, as SQL Server compiles
 * a batch before executing it: a statement it cannot translate fails the batch with nothing done.
 */
export const translateBatch = (sql: string, o: TranslateOptions): Plan[] =>
  splitStatements(tokenize(sql)).map((tokens) => translateStatement(o, tokens));
