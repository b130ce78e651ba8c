import { SqlServerError } from '../engine-api.ts';
import { type FixedRole, isOwner } from './catalog.ts';
import {
  matchParen,
  quoteIdent,
  quoteString,
  readMultipart,
  resolveTable,
  splitCommas,
  type TranslateContext,
} from './context.ts';
import { isWord, syntaxError, type Token, tokenize } from './lexer.ts';
import type { Emit } from './openjson.ts';
import { notSupported, readType } from './types.ts';

/** Built-ins whose PostgreSQL namesake has the same arguments and meaning. */
const SAME = new Set([
  'COUNT',
  'SUM',
  'MIN',
  'MAX',
  'AVG',
  'COALESCE',
  'NULLIF',
  'ABS',
  'UPPER',
  'LOWER',
  'LTRIM',
  'RTRIM',
  'TRIM',
  'FLOOR',
  'CEILING',
  'REPLACE',
  'SUBSTRING',
  'ROW_NUMBER',
  'RANK',
  'DENSE_RANK',
  'CONCAT',
  'LEFT',
  'RIGHT',
]);

/** SQL Server's clock runs in UTC on Azure SQL; `clock_timestamp()` moves within a transaction as SYSUTCDATETIME does. */
const UTC_NOW = `(clock_timestamp() AT TIME ZONE 'UTC')`;

/** Niladic built-ins written without parentheses. */
export const niladic = (ctx: TranslateContext, upper: string): string | undefined => {
  switch (upper) {
    case 'CURRENT_TIMESTAMP':
      return `${UTC_NOW}::timestamp(3)`;
    case 'CURRENT_USER':
    case 'SESSION_USER':
    case 'USER':
      return `${quoteString(ctx.user)}::varchar(128)`;
    case 'SYSTEM_USER':
      return `${quoteString(ctx.user)}::varchar(128)`;
    default:
      return undefined;
  }
};

/**
 * DATEADD's dateparts and abbreviations, as PostgreSQL intervals. Month arithmetic clamps to the
 * month's last day in both (DATEADD(month, 1, '2024-01-31') is 2024-02-29). Nanoseconds are below
 * PostgreSQL's precision, so they are refused.
 */
const DATEADD_UNITS: Readonly<Record<string, string>> = {
  YEAR: '1 year',
  YY: '1 year',
  YYYY: '1 year',
  QUARTER: '3 months',
  QQ: '3 months',
  Q: '3 months',
  MONTH: '1 month',
  MM: '1 month',
  M: '1 month',
  DAYOFYEAR: '1 day',
  DY: '1 day',
  Y: '1 day',
  DAY: '1 day',
  DD: '1 day',
  D: '1 day',
  WEEK: '7 days',
  WK: '7 days',
  WW: '7 days',
  WEEKDAY: '1 day',
  DW: '1 day',
  W: '1 day',
  HOUR: '1 hour',
  HH: '1 hour',
  MINUTE: '1 minute',
  MI: '1 minute',
  N: '1 minute',
  SECOND: '1 second',
  SS: '1 second',
  S: '1 second',
  MILLISECOND: '1 millisecond',
  MS: '1 millisecond',
  MICROSECOND: '1 microsecond',
  MCS: '1 microsecond',
};

const notBuiltIn = (name: string): SqlServerError =>
  new SqlServerError({
    number: 195,
    state: 10,
    severity: 15,
    message: `'${name}' is not a recognized built-in function name.`,
  });

const noArgs = (_tokens: readonly Token[], open: number, close: number, name: string): void => {
  if (close !== open + 1) {
    throw new SqlServerError({
      number: 174,
      state: 1,
      severity: 15,
      message: `The ${name.toLowerCase()} function requires 0 argument(s).`,
    });
  }
};

/**
 * Translates the call `tokens[at](…)`; `emit` translates argument ranges. Built-ins without a
 * faithful PostgreSQL rendering are refused rather than approximated.
 */
export const translateFunction = (
  ctx: TranslateContext,
  tokens: readonly Token[],
  at: number,
  emit: Emit,
): { sql: string; next: number } => {
  const t = tokens[at] as Token & { kind: 'word' };
  const open = at + 1;
  const close = matchParen(tokens, open);
  const next = close + 1;
  const name = t.upper;
  const args = (): string[] => splitCommas(tokens, open + 1, close).map(([a, b]) => emit(a, b));
  // SQL Server's COUNT is INT; PostgreSQL's is BIGINT.
  if (name === 'COUNT') return { sql: `count(${emit(open + 1, close)})::integer`, next };
  if (SAME.has(name)) return { sql: `${name.toLowerCase()}(${emit(open + 1, close)})`, next };
  switch (name) {
    case 'COUNT_BIG':
      return { sql: `count(${emit(open + 1, close)})`, next };
    case 'ISNULL': {
      const a = args();
      if (a.length !== 2) throw syntaxError('ISNULL');
      return { sql: `coalesce(${a.join(', ')})`, next };
    }
    case 'LEN':
      // LEN ignores trailing spaces.
      return { sql: `char_length(rtrim(${emit(open + 1, close)}))`, next };
    case 'SYSUTCDATETIME':
    case 'SYSDATETIME':
      noArgs(tokens, open, close, name);
      return { sql: `${UTC_NOW}::timestamp(6)`, next };
    case 'SYSDATETIMEOFFSET':
      noArgs(tokens, open, close, name);
      return { sql: 'clock_timestamp()', next };
    case 'GETUTCDATE':
    case 'GETDATE':
      noArgs(tokens, open, close, name);
      return { sql: `${UTC_NOW}::timestamp(3)`, next };
    case 'NEWID':
      noArgs(tokens, open, close, name);
      return { sql: 'gen_random_uuid()', next };
    case 'DB_NAME':
      noArgs(tokens, open, close, name);
      return { sql: `${quoteString(ctx.database)}::varchar(128)`, next };
    case 'USER_NAME':
    case 'SUSER_SNAME':
    case 'SUSER_NAME':
      noArgs(tokens, open, close, name);
      return { sql: `${quoteString(ctx.user)}::varchar(128)`, next };
    case 'OBJECT_ID': {
      const parts = splitCommas(tokens, open + 1, close);
      const first = parts[0] ? tokens[parts[0][0]] : undefined;
      if (first?.kind !== 'string' || parts.length > 2)
        throw notSupported('OBJECT_ID with a non-literal name');
      const nameTokens = tokenize(first.text);
      const { parts: nameParts, next: end } = readMultipart(nameTokens, 0);
      if (end !== nameTokens.length) return { sql: 'NULL::integer', next };
      const { schema, table } = resolveTable(ctx, nameParts);
      return {
        sql: `to_regclass(${quoteString(`${quoteIdent(schema)}.${quoteIdent(table)}`)})::oid::integer`,
        next,
      };
    }
    case 'CAST': {
      let asAt = -1;
      let depth = 0;
      for (let i = open + 1; i < close; i++) {
        const x = tokens[i];
        if (x?.kind === 'punct' && x.text === '(') depth++;
        else if (x?.kind === 'punct' && x.text === ')') depth--;
        else if (depth === 0 && isWord(x, 'AS')) asAt = i;
      }
      if (asAt < 0) throw syntaxError('CAST');
      const { type, next: afterType } = readType(tokens, asAt + 1);
      if (afterType !== close) throw syntaxError('CAST');
      return { sql: `CAST(${emit(open + 1, asAt)} AS ${type.pg})`, next };
    }
    case 'ROUND': {
      const a = args();
      // ROUND(x, n, 1) truncates in SQL Server: not emulated.
      if (a.length !== 2) throw notSupported('ROUND with a function argument');
      return { sql: `round(${a[0]}, ${a[1]})`, next };
    }
    case 'HAS_PERMS_BY_NAME':
      return { sql: hasPermsByName(ctx, tokens, splitCommas(tokens, open + 1, close)), next };
    case 'DATEADD': {
      const parts = splitCommas(tokens, open + 1, close);
      if (parts.length !== 3) throw syntaxError('DATEADD');
      const [unitAt] = parts[0] as [number, number];
      const unitToken = tokens[unitAt];
      const unit =
        unitToken?.kind === 'word' && parts[0]?.[1] === unitAt + 1
          ? DATEADD_UNITS[unitToken.upper]
          : undefined;
      if (!unit) throw notSupported(`DATEADD with the datepart ${unitToken?.text ?? ''}`);
      const [numberFrom, numberTo] = parts[1] as [number, number];
      const [dateFrom, dateTo] = parts[2] as [number, number];
      // SQL Server truncates a fractional number toward zero and keeps the type of the date.
      return {
        sql: `(${emit(dateFrom, dateTo)} + trunc((${emit(numberFrom, numberTo)})::numeric)::integer * interval '${unit}')`,
        next,
      };
    }
    case 'CONVERT':
    case 'TRY_CAST':
    case 'TRY_CONVERT':
    case 'DATEDIFF':
    case 'DATEPART':
    case 'DATENAME':
    case 'FORMAT':
    case 'JSON_VALUE':
    case 'JSON_QUERY':
    case 'JSON_MODIFY':
    case 'ISJSON':
    case 'CHARINDEX':
    case 'DATALENGTH':
    case 'STRING_AGG':
    case 'STRING_SPLIT':
    case 'IIF':
    case 'CHOOSE':
    case 'SCOPE_IDENTITY':
    case 'OBJECT_NAME':
    case 'IS_ROLEMEMBER':
      throw notSupported(name);
    default:
      throw notBuiltIn(t.text);
  }
};

const OBJECT_PERMISSION_ROLE: Record<string, FixedRole> = {
  SELECT: 'db_datareader',
  INSERT: 'db_datawriter',
  UPDATE: 'db_datawriter',
  DELETE: 'db_datawriter',
};
const DATABASE_PERMISSION_ROLE: Record<string, FixedRole> = {
  'CREATE TABLE': 'db_ddladmin',
  'ALTER ANY SCHEMA': 'db_ddladmin',
  'CREATE VIEW': 'db_ddladmin',
  'CREATE PROCEDURE': 'db_ddladmin',
};

/**
 * HAS_PERMS_BY_NAME for what the fixed roles grant: 1 or 0 from the session user's roles, NULL for
 * an object that does not exist. Class and permission must be literals (decided at translation);
 * the securable of the DATABASE class is the current database whatever it says.
 */
function hasPermsByName(
  ctx: TranslateContext,
  tokens: readonly Token[],
  parts: Array<[number, number]>,
): string {
  const literal = (i: number): string | undefined => {
    const part = parts[i];
    const t = part && part[1] - part[0] === 1 ? tokens[part[0]] : undefined;
    return t?.kind === 'string' ? t.text : undefined;
  };
  const securable = literal(0);
  const securableClass = literal(1)?.toUpperCase();
  const permission = literal(2)?.toUpperCase();
  if (parts.length !== 3 || !securableClass || !permission)
    throw notSupported('HAS_PERMS_BY_NAME with a non-literal class or permission');
  const principal = ctx.catalog.principals.get(ctx.user.toLowerCase());
  const has = (role: FixedRole | undefined) =>
    isOwner(principal) || (role !== undefined && principal?.roles.has(role)) ? 1 : 0;
  if (securableClass === 'DATABASE') return `${has(DATABASE_PERMISSION_ROLE[permission])}`;
  if (securableClass !== 'OBJECT' || securable === undefined)
    throw notSupported(`HAS_PERMS_BY_NAME for class ${securableClass} or a non-literal object`);
  const nameTokens = tokenize(securable);
  const { parts: nameParts, next: end } = readMultipart(nameTokens, 0);
  if (end !== nameTokens.length) return 'NULL::integer';
  const { schema, table } = resolveTable(ctx, nameParts);
  const regclass = quoteString(`${quoteIdent(schema)}.${quoteIdent(table)}`);
  return `(CASE WHEN to_regclass(${regclass}) IS NULL THEN NULL ELSE ${has(OBJECT_PERMISSION_ROLE[permission])} END)::integer`;
}
