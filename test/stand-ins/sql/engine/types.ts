import { SqlServerError } from '../engine-api.ts';
import { isPunct, type Token, tokenText } from './lexer.ts';

/** A T-SQL data type and the PostgreSQL type that stores it with the same domain. */
export type SqlType = {
  /** Canonical T-SQL spelling, lower case, for messages: `nvarchar(128)`, `decimal(19,2)`. */
  tsql: string;
  /** Base name for messages such as "converting … to data type int". */
  base: string;
  pg: string;
  /** Character or byte length; undefined = MAX or not a string type. */
  length?: number;
  /** Strings are passed to PostgreSQL untyped so that it infers them from context, as SQL Server converts them. */
  isString: boolean;
};

export const notSupported = (what: string): SqlServerError =>
  new SqlServerError({
    number: 40517,
    state: 1,
    severity: 16,
    message: `Keyword or statement option '${what}' is not supported in this version of SQL Server.`,
  });

const typeError = (name: string): SqlServerError =>
  new SqlServerError({
    number: 2715,
    state: 6,
    severity: 16,
    message: `Column, parameter, or variable #1: Cannot find data type ${name}.`,
  });

const readArgs = (tokens: readonly Token[], at: number): { args: string[]; next: number } => {
  if (!isPunct(tokens[at], '(')) return { args: [], next: at };
  const args: string[] = [];
  let i = at + 1;
  for (;;) {
    const t = tokens[i];
    if (!t)
      throw new SqlServerError({
        number: 102,
        state: 1,
        severity: 15,
        message: "Incorrect syntax near '('.",
      });
    if (isPunct(t, ')')) return { args, next: i + 1 };
    if (!isPunct(t, ',')) args.push(t.kind === 'word' ? t.upper : tokenText(t));
    i++;
  }
};

const lengthArg = (name: string, args: string[], dflt: number, max: number): number | undefined => {
  const a = args[0];
  if (a === undefined) return dflt;
  if (a === 'MAX') return undefined;
  const n = Number(a);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new SqlServerError({
      number: 131,
      state: 3,
      severity: 15,
      message: `The size (${a}) given to the type '${name}' exceeds the maximum allowed for any data type (${max}).`,
    });
  }
  return n;
};

/**
 * Reads a T-SQL type at `tokens[at]` (`NVARCHAR(50)`, `DECIMAL(19, 2)`, `DATETIME2(3)`, …).
 * Types this stand-in cannot store with the same semantics are refused, never approximated.
 */
export const readType = (tokens: readonly Token[], at: number): { type: SqlType; next: number } => {
  const t = tokens[at];
  let name: string;
  let i = at + 1;
  if (t?.kind === 'word') name = t.upper;
  else if (t?.kind === 'qident') name = t.text.toUpperCase();
  else
    throw new SqlServerError({
      number: 102,
      state: 1,
      severity: 15,
      message: `Incorrect syntax near '${tokenText(t)}'.`,
    });
  // `dbo.` or `sys.` before a built-in type name is legal T-SQL.
  if ((name === 'SYS' || name === 'DBO') && isPunct(tokens[i], '.')) {
    const inner = tokens[i + 1];
    name = inner?.kind === 'word' ? inner.upper : tokenText(inner).toUpperCase();
    i += 2;
  }
  const { args, next } = readArgs(tokens, i);
  const lower = name.toLowerCase();
  const str = (pgBase: string, max: number, dflt: number): SqlType => {
    const length = lengthArg(lower, args, dflt, max);
    const suffix = length === undefined ? 'max' : String(length);
    if (length === undefined) return { tsql: `${lower}(max)`, base: lower, pg: 'text', isString: true };
    return { tsql: `${lower}(${suffix})`, base: lower, pg: `${pgBase}(${length})`, length, isString: true };
  };
  const fixed = (pg: string, isString = false): SqlType => ({ tsql: lower, base: lower, pg, isString });
  const type = ((): SqlType => {
    switch (name) {
      case 'NVARCHAR':
        return str('varchar', 4000, 1);
      case 'VARCHAR':
        return str('varchar', 8000, 1);
      case 'NCHAR':
      case 'CHAR': {
        const length = lengthArg(lower, args, 1, name === 'CHAR' ? 8000 : 4000) ?? 1;
        return { tsql: `${lower}(${length})`, base: lower, pg: `char(${length})`, length, isString: true };
      }
      case 'SYSNAME':
        return { tsql: 'sysname', base: 'sysname', pg: 'varchar(128)', length: 128, isString: true };
      case 'INT':
        return fixed('integer');
      case 'BIGINT':
        return fixed('bigint');
      case 'SMALLINT':
        return fixed('smallint');
      case 'BIT':
        return fixed('boolean');
      case 'FLOAT':
        return fixed('double precision');
      case 'REAL':
        return fixed('real');
      case 'DECIMAL':
      case 'NUMERIC': {
        const p = args[0] === undefined ? 18 : Number(args[0]);
        const s = args[1] === undefined ? 0 : Number(args[1]);
        if (!Number.isInteger(p) || p < 1 || p > 38 || !Number.isInteger(s) || s < 0 || s > p) {
          throw new SqlServerError({
            number: 2750,
            state: 2,
            severity: 16,
            message: `Column or parameter #1: Specified column precision ${args[0]} is greater than the maximum precision of 38.`,
          });
        }
        return { tsql: `${lower}(${p},${s})`, base: lower, pg: `numeric(${p},${s})`, isString: false };
      }
      case 'DATETIME2':
      case 'DATETIMEOFFSET': {
        const scale = args[0] === undefined ? 7 : Number(args[0]);
        if (!Number.isInteger(scale) || scale < 0 || scale > 7) throw notSupported(`${lower}(${args[0]})`);
        // PostgreSQL keeps microseconds: scale 7 is stored as 6 (100 ns ticks are lost, a documented gap).
        const pgScale = Math.min(scale, 6);
        // DATETIMEOFFSET keeps its offset in SQL Server; timestamptz normalises to UTC (same instant).
        const pg = name === 'DATETIME2' ? `timestamp(${pgScale})` : `timestamptz(${pgScale})`;
        return { tsql: `${lower}(${scale})`, base: lower, pg, isString: false };
      }
      case 'DATETIME':
        return fixed('timestamp(3)');
      case 'DATE':
        return fixed('date');
      case 'UNIQUEIDENTIFIER':
        return fixed('uuid');
      case 'VARBINARY':
      case 'BINARY': {
        const length = lengthArg(lower, args, 1, 8000);
        return {
          tsql: `${lower}(${length ?? 'max'})`,
          base: lower,
          pg: 'bytea',
          isString: false,
          ...(length ? { length } : {}),
        };
      }
      case 'TINYINT':
      case 'MONEY':
      case 'SMALLMONEY':
      case 'XML':
      case 'TEXT':
      case 'NTEXT':
      case 'IMAGE':
      case 'SQL_VARIANT':
      case 'TIME':
      case 'SMALLDATETIME':
      case 'HIERARCHYID':
      case 'GEOGRAPHY':
      case 'GEOMETRY':
      case 'ROWVERSION':
      case 'TIMESTAMP':
        throw notSupported(lower);
      default:
        throw typeError(lower);
    }
  })();
  return { type, next };
};

/** Parses the declared type of an `sp_executesql` parameter, such as `nvarchar(max)`. */
export const parseDeclaredType = (tokens: readonly Token[]): SqlType => {
  const { type, next } = readType(tokens, 0);
  const rest = tokens[next];
  // OUTPUT parameters would need values sent back: not emulated.
  if (rest) throw notSupported(tokenText(rest));
  return type;
};
