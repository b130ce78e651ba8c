import { SqlServerError } from '../engine-api.ts';
import type { Catalog } from './catalog.ts';
import { isPunct, syntaxError, type Token, tokenText } from './lexer.ts';
import type { SqlType } from './types.ts';

export type Permission = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

/** A table the statement touches and what it does to it: checked against the session's roles. */
export type Access = { schema: string; table: string; permission: Permission };

/** A PostgreSQL `$n` and where its value comes from at run time. */
export type ParamSource = { kind: 'param'; name: string } | { kind: 'rowcount' };

export type DeclaredParam = { name: string; type: SqlType };

/** Statement-wide state shared by the translators of its parts. */
export type TranslateContext = {
  database: string;
  user: string;
  catalog: Catalog;
  declared: Map<string, DeclaredParam>;
  params: ParamSource[];
  /** Parameters left untyped so PostgreSQL infers them; retried as text when it cannot. */
  untyped: Set<number>;
  access: Access[];
  /** Lower-case name → spelling in this statement (result-set column names). */
  names: Map<string, string>;
  /** Names of common table expressions: not tables, so no permission applies. */
  ctes: Set<string>;
  /** Unique suffix for generated aliases. */
  seq: number;
  inTransaction: boolean;
};

export const quoteIdent = (name: string): string => `"${name.toLowerCase().replace(/"/g, '""')}"`;
export const quoteString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** Index of the `)` matching the `(` at `open`. */
export const matchParen = (tokens: readonly Token[], open: number): number => {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    if (isPunct(tokens[i], '(')) depth++;
    else if (isPunct(tokens[i], ')')) {
      depth--;
      if (depth === 0) return i;
    }
  }
  throw syntaxError(tokenText(tokens[open]));
};

/** Splits `[from, to)` at top-level commas. */
export const splitCommas = (tokens: readonly Token[], from: number, to: number): Array<[number, number]> => {
  const parts: Array<[number, number]> = [];
  let start = from;
  let depth = 0;
  for (let i = from; i < to; i++) {
    if (isPunct(tokens[i], '(')) depth++;
    else if (isPunct(tokens[i], ')')) depth--;
    else if (depth === 0 && isPunct(tokens[i], ',')) {
      parts.push([start, i]);
      start = i + 1;
    }
  }
  if (to > start) parts.push([start, to]);
  return parts;
};

export const isName = (t: Token | undefined): boolean => t?.kind === 'word' || t?.kind === 'qident';

/** The name a word or [bracketed] token spells. */
export const nameOf = (t: Token | undefined): string => {
  if (t?.kind === 'word' || t?.kind === 'qident') return t.text;
  throw syntaxError(tokenText(t));
};

/** Reads `a`, `a.b` or `a.b.c` at `at`: the parts and the index after them. */
export const readMultipart = (tokens: readonly Token[], at: number): { parts: string[]; next: number } => {
  const parts = [nameOf(tokens[at])];
  let i = at + 1;
  while (isPunct(tokens[i], '.') && isName(tokens[i + 1])) {
    parts.push(nameOf(tokens[i + 1]));
    i += 2;
  }
  return { parts, next: i };
};

export const invalidObject = (name: string): SqlServerError =>
  new SqlServerError({ number: 208, state: 1, severity: 16, message: `Invalid object name '${name}'.` });

/**
 * Resolves a table name to (schema, table). A three-part name must name the session's database;
 * PostgreSQL's own schemas are not objects of the emulated database.
 */
export const resolveTable = (ctx: TranslateContext, parts: string[]): { schema: string; table: string } => {
  const display = parts.join('.');
  let p = parts;
  if (p.length === 3) {
    if ((p[0] as string).toLowerCase() !== ctx.database.toLowerCase()) throw invalidObject(display);
    p = p.slice(1);
  }
  if (p.length > 2) throw invalidObject(display);
  const schema = p.length === 2 ? (p[0] as string) : 'dbo';
  const table = p[p.length - 1] as string;
  const s = schema.toLowerCase();
  if (s.startsWith('pg_') || s === 'information_schema' || s === 'public' || s === 'sys')
    throw invalidObject(display);
  return { schema, table };
};

export const noteName = (ctx: TranslateContext, name: string): void => {
  const key = name.toLowerCase();
  if (!ctx.names.has(key)) ctx.names.set(key, name);
};

/** `$n` for a declared parameter, reusing the number when the statement names it again. */
export const paramRef = (ctx: TranslateContext, token: Token): string => {
  const upper = token.kind === 'param' ? token.upper : tokenText(token).toUpperCase();
  const declared = ctx.declared.get(upper);
  if (!declared) {
    throw new SqlServerError({
      number: 137,
      state: 2,
      severity: 15,
      message: `Must declare the scalar variable "${tokenText(token)}".`,
    });
  }
  let index = ctx.params.findIndex((p) => p.kind === 'param' && p.name === upper);
  if (index < 0) {
    ctx.params.push({ kind: 'param', name: upper });
    index = ctx.params.length - 1;
  }
  const n = index + 1;
  if (declared.type.isString) {
    ctx.untyped.add(n);
    return `$${n}`;
  }
  return `$${n}::${declared.type.pg}`;
};
