import { SqlServerError } from '../engine-api.ts';

/**
 * T-SQL tokens. Whitespace and comments are dropped: the translator re-emits PostgreSQL text
 * token by token, so layout never matters, while strings and [bracketed] names keep their bytes.
 */
export type Token =
  | { kind: 'word'; text: string; upper: string }
  /** `[name]` or `"name"` (QUOTED_IDENTIFIER is ON for every client this project uses). */
  | { kind: 'qident'; text: string }
  /** `'…'` or `N'…'`, with `''` already unescaped. */
  | { kind: 'string'; text: string; national: boolean }
  | { kind: 'number'; text: string }
  | { kind: 'binary'; text: string }
  | { kind: 'param'; text: string; upper: string }
  | { kind: 'sysvar'; text: string; upper: string }
  | { kind: 'temp'; text: string }
  | { kind: 'punct'; text: string };

export const syntaxError = (near: string): SqlServerError =>
  new SqlServerError({ number: 102, state: 1, severity: 15, message: `Incorrect syntax near '${near}'.` });

const isWordStart = (c: string): boolean => /[A-Za-z_\u0080-\uffff]/.test(c);
const isWordPart = (c: string): boolean => /[A-Za-z0-9_$#@\u0080-\uffff]/.test(c);
const TWO_CHAR = new Set(['<=', '>=', '<>', '!=', '!<', '!>', '::', '+=', '-=', '*=', '/=', '||']);

export const tokenize = (sql: string): Token[] => {
  const out: Token[] = [];
  let i = 0;
  const n = sql.length;
  const readDelimited = (close: string, start: number): string => {
    // Doubling the closing character escapes it, for '…', […] and "…" alike.
    let text = '';
    let j = start;
    for (;;) {
      if (j >= n) {
        const what =
          close === "'" ? 'Unclosed quotation mark after the character string' : 'Unclosed quotation mark';
        throw new SqlServerError({ number: 105, state: 1, severity: 15, message: `${what} '${text}'.` });
      }
      const c = sql[j] as string;
      if (c === close) {
        if (sql[j + 1] === close) {
          text += close;
          j += 2;
          continue;
        }
        i = j + 1;
        return text;
      }
      text += c;
      j++;
    }
  };
  while (i < n) {
    const c = sql[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < n && sql[i] !== '\n') i++;
    } else if (c === '/' && sql[i + 1] === '*') {
      // T-SQL block comments nest.
      let depth = 0;
      do {
        if (sql.startsWith('/*', i)) {
          depth++;
          i += 2;
        } else if (sql.startsWith('*/', i)) {
          depth--;
          i += 2;
        } else if (i >= n) {
          throw new SqlServerError({
            number: 113,
            state: 1,
            severity: 15,
            message: "Missing end comment mark '*/'.",
          });
        } else i++;
      } while (depth > 0);
    } else if ((c === 'N' || c === 'n') && sql[i + 1] === "'") {
      out.push({ kind: 'string', text: readDelimited("'", i + 2), national: true });
    } else if (c === "'") {
      out.push({ kind: 'string', text: readDelimited("'", i + 1), national: false });
    } else if (c === '[') {
      out.push({ kind: 'qident', text: readDelimited(']', i + 1) });
    } else if (c === '"') {
      out.push({ kind: 'qident', text: readDelimited('"', i + 1) });
    } else if (c === '0' && (sql[i + 1] === 'x' || sql[i + 1] === 'X')) {
      let j = i + 2;
      while (j < n && /[0-9A-Fa-f]/.test(sql[j] as string)) j++;
      out.push({ kind: 'binary', text: sql.slice(i + 2, j) });
      i = j;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      const m = /^(\d*\.?\d*(?:[eE][+-]?\d+)?)/.exec(sql.slice(i));
      const text = m?.[1] ?? c;
      out.push({ kind: 'number', text });
      i += text.length;
    } else if (c === '@' || c === '#') {
      const sys = c === '@' && sql[i + 1] === '@';
      let j = i + (sys ? 2 : 1);
      if (c === '#' && sql[j] === '#') j++;
      while (j < n && isWordPart(sql[j] as string)) j++;
      const text = sql.slice(i, j);
      if (text.length <= (sys ? 2 : 1)) throw syntaxError(c);
      if (c === '#') out.push({ kind: 'temp', text });
      else out.push({ kind: sys ? 'sysvar' : 'param', text, upper: text.toUpperCase() });
      i = j;
    } else if (isWordStart(c)) {
      let j = i + 1;
      while (j < n && isWordPart(sql[j] as string)) j++;
      const text = sql.slice(i, j);
      out.push({ kind: 'word', text, upper: text.toUpperCase() });
      i = j;
    } else {
      const two = sql.slice(i, i + 2);
      if (TWO_CHAR.has(two)) {
        out.push({ kind: 'punct', text: two });
        i += 2;
      } else {
        out.push({ kind: 'punct', text: c });
        i++;
      }
    }
  }
  return out;
};

/** True when the token is the bare word `upper` (keywords are case-insensitive in T-SQL). */
export const isWord = (t: Token | undefined, ...uppers: string[]): boolean =>
  t?.kind === 'word' && uppers.includes(t.upper);

export const isPunct = (t: Token | undefined, text: string): boolean =>
  t?.kind === 'punct' && t.text === text;

/** Splits a batch into statements at `;` (outside parentheses); runs of SET options need no `;`. */
export const splitStatements = (tokens: readonly Token[]): Token[][] => {
  const statements: Token[][] = [];
  let current: Token[] = [];
  let depth = 0;
  const push = (): void => {
    if (current.length > 0) statements.push(current);
    current = [];
  };
  for (const t of tokens) {
    if (isPunct(t, '(')) depth++;
    if (isPunct(t, ')')) depth--;
    if (depth === 0 && isPunct(t, ';')) {
      push();
      continue;
    }
    // tedious sends its session options as newline-separated SET statements without `;`.
    if (depth === 0 && isWord(t, 'SET') && isWord(current[0], 'SET')) push();
    current.push(t);
  }
  push();
  return statements;
};

/** The text to name a token in an error message. */
export const tokenText = (t: Token | undefined): string => {
  if (!t) return '';
  if (t.kind === 'binary') return `0x${t.text}`;
  return t.text;
};
