import { SqlServerError } from '../engine-api.ts';
import {
  matchParen,
  nameOf,
  noteName,
  quoteIdent,
  quoteString,
  splitCommas,
  type TranslateContext,
} from './context.ts';
import { isPunct, isWord, syntaxError, type Token, tokenText } from './lexer.ts';
import { notSupported, readType } from './types.ts';

export type Emit = (from: number, to: number) => string;

const pathError = (path: string): SqlServerError =>
  new SqlServerError({
    number: 13607,
    state: 4,
    severity: 16,
    message: `JSON path is not properly formatted. Unexpected character '${path}' is found.`,
  });

/** `$.a."b c"[0]` → PostgreSQL text-array path literal `'{"a","b c","0"}'`. Lax mode only. */
export const jsonPath = (path: string): string => {
  let p = path.trim();
  if (/^strict\s/i.test(p)) throw notSupported('strict (JSON path mode)');
  p = p.replace(/^lax\s+/i, '');
  if (!p.startsWith('$')) throw pathError(p.slice(0, 1));
  const segments: string[] = [];
  let i = 1;
  while (i < p.length) {
    const c = p[i];
    if (c === '.') {
      if (p[i + 1] === '"') {
        const end = p.indexOf('"', i + 2);
        if (end < 0) throw pathError(p.slice(i));
        segments.push(p.slice(i + 2, end));
        i = end + 1;
      } else {
        const m = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(p.slice(i + 1));
        if (!m) throw pathError(p.slice(i, i + 2));
        segments.push(m[0]);
        i += 1 + m[0].length;
      }
    } else if (c === '[') {
      const m = /^\[(\d+)\]/.exec(p.slice(i));
      if (!m) throw pathError(p.slice(i, i + 2));
      segments.push(m[1] as string);
      i += m[0].length;
    } else throw pathError(c as string);
  }
  const items = segments.map((s) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
  return quoteString(`{${items.join(',')}}`);
};

const CLAUSE_WORDS = new Set([
  'WHERE',
  'JOIN',
  'INNER',
  'LEFT',
  'RIGHT',
  'FULL',
  'CROSS',
  'OUTER',
  'ON',
  'GROUP',
  'ORDER',
  'HAVING',
  'UNION',
  'EXCEPT',
  'INTERSECT',
  'OPTION',
  'FOR',
  'WITH',
  'SET',
  'OUTPUT',
]);

/**
 * `OPENJSON(expr [, path]) [WITH (col type ['path'] [AS JSON], …)]` → a derived table over
 * `jsonb_array_elements`. SQL Server's lax semantics are kept: an object yields one row, a missing
 * property yields NULL, a non-scalar read into a scalar column yields NULL, and values convert to
 * the declared type with the same conversion errors (see errors.ts).
 */
export const translateOpenJson = (
  ctx: TranslateContext,
  tokens: readonly Token[],
  at: number,
  emit: Emit,
): { sql: string; next: number } => {
  if (!isPunct(tokens[at + 1], '(')) throw syntaxError('OPENJSON');
  const close = matchParen(tokens, at + 1);
  const args = splitCommas(tokens, at + 2, close);
  const [exprRange, pathRange] = args;
  if (!exprRange || args.length > 2) throw syntaxError('OPENJSON');
  let doc = `(${emit(exprRange[0], exprRange[1])})::jsonb`;
  if (pathRange) {
    const pathToken = tokens[pathRange[0]];
    if (pathToken?.kind !== 'string' || pathRange[1] - pathRange[0] !== 1)
      throw notSupported('OPENJSON path that is not a literal');
    doc = `(${doc} #> ${jsonPath(pathToken.text)})`;
  }
  const n = ++ctx.seq;
  const e = `"__oj${n}"`;
  let next = close + 1;
  let body: string;
  if (isWord(tokens[next], 'WITH') && isPunct(tokens[next + 1], '(')) {
    const end = matchParen(tokens, next + 1);
    const cols = splitCommas(tokens, next + 2, end).map(([from, to]) => {
      const name = nameOf(tokens[from]);
      noteName(ctx, name);
      const { type, next: afterType } = readType(tokens, from + 1);
      let j = afterType;
      let path = `$.${name}`;
      const pathToken = tokens[j];
      if (pathToken?.kind === 'string') {
        path = pathToken.text;
        j++;
      }
      let asJson = false;
      if (isWord(tokens[j], 'AS') && isWord(tokens[j + 1], 'JSON')) {
        asJson = true;
        j += 2;
      }
      if (j !== to) throw syntaxError(tokenText(tokens[j]));
      const p = jsonPath(path);
      if (asJson) {
        if (type.pg !== 'text' || type.base !== 'nvarchar') {
          throw new SqlServerError({
            number: 13618,
            state: 1,
            severity: 16,
            message: `AS JSON option can be specified only for column of nvarchar(max) type in WITH clause.`,
          });
        }
        return `(${e}.v #> ${p})::text AS ${quoteIdent(name)}`;
      }
      const scalar = `CASE WHEN jsonb_typeof(${e}.v #> ${p}) IN ('object', 'array') THEN NULL ELSE ${e}.v #>> ${p} END`;
      return `(${scalar})::${type.pg} AS ${quoteIdent(name)}`;
    });
    next = end + 1;
    const rows = `CASE jsonb_typeof(${doc}) WHEN 'array' THEN ${doc} ELSE jsonb_build_array(${doc}) END`;
    body = `SELECT ${cols.join(', ')} FROM jsonb_array_elements(${rows}) AS ${e}(v)`;
  } else {
    // The default schema: key, value, type, over an array or an object.
    const value = `CASE jsonb_typeof(${e}.j) WHEN 'string' THEN ${e}.j #>> '{}' WHEN 'null' THEN NULL ELSE ${e}.j::text END`;
    const type = `CASE jsonb_typeof(${e}.j) WHEN 'null' THEN 0 WHEN 'string' THEN 1 WHEN 'number' THEN 2 WHEN 'boolean' THEN 3 WHEN 'array' THEN 4 ELSE 5 END`;
    const source =
      `SELECT (a.n - 1)::text AS k, a.v AS j FROM jsonb_array_elements(CASE WHEN jsonb_typeof(${doc}) = 'array' THEN ${doc} END) WITH ORDINALITY AS a(v, n)` +
      ` UNION ALL SELECT o.k, o.v FROM jsonb_each(CASE WHEN jsonb_typeof(${doc}) = 'object' THEN ${doc} END) AS o(k, v)`;
    for (const n of ['key', 'value', 'type']) noteName(ctx, n);
    body = `SELECT ${e}.k::varchar(4000) AS "key", (${value}) AS "value", (${type}) AS "type" FROM (${source}) AS ${e}`;
  }
  let sql = `(${body})`;
  const after = tokens[next];
  const hasAlias =
    isWord(after, 'AS') ||
    after?.kind === 'qident' ||
    (after?.kind === 'word' && !CLAUSE_WORDS.has(after.upper));
  if (!hasAlias) sql += ` AS "__openjson${n}"`;
  return { sql, next };
};
