import {
  type Access,
  isName,
  matchParen,
  nameOf,
  noteName,
  type Permission,
  paramRef,
  quoteIdent,
  quoteString,
  readMultipart,
  resolveTable,
  type TranslateContext,
} from './context.ts';
import { niladic, translateFunction } from './functions.ts';
import { isPunct, isWord, syntaxError, type Token, tokenText } from './lexer.ts';
import { translateOpenJson } from './openjson.ts';
import { notSupported } from './types.ts';

/** Keywords passed to PostgreSQL as they are: the same word means the same thing in both. */
const KEYWORDS = new Set(
  (
    'SELECT DISTINCT FROM WHERE AND OR NOT NULL IS IN EXISTS BETWEEN LIKE ESCAPE AS ON JOIN INNER LEFT RIGHT FULL ' +
    'OUTER CROSS GROUP BY ORDER ASC DESC HAVING UNION ALL EXCEPT INTERSECT INSERT INTO VALUES DEFAULT UPDATE SET ' +
    'DELETE CASE WHEN THEN ELSE END OFFSET ROWS ROW FETCH NEXT FIRST ONLY OVER PARTITION ANY SOME WITH'
  ).split(' '),
);

/** Keywords of the clauses above that T-SQL does not reserve: after AS they name a column. */
const UNRESERVED = new Set('FIRST NEXT ROW ROWS ONLY OFFSET PARTITION'.split(' '));

/** T-SQL keywords whose statements or clauses the stand-in does not translate. */
const REFUSED = new Set(
  (
    'MERGE EXEC EXECUTE DECLARE PRINT WHILE RETURN GOTO OPENROWSET OPENQUERY OPENDATASOURCE PIVOT UNPIVOT ' +
    'TABLESAMPLE FOR OPTION COLLATE CONTAINS FREETEXT WAITFOR RAISERROR THROW TRY CATCH CURSOR OPEN CLOSE ' +
    'DEALLOCATE IDENTITY TRUNCATE BULK BACKUP RESTORE GRANT REVOKE DENY USE KILL DBCC CHECKPOINT SHUTDOWN ' +
    'RECONFIGURE OUTPUT READTEXT WRITETEXT UPDATETEXT COMPUTE BREAK CONTINUE BEGIN DUMP LOAD SETUSER'
  ).split(' '),
);

/**
 * Locking hints dropped from the PostgreSQL text. They are honoured by construction, not ignored:
 * the engine runs one transaction at a time (a transaction holds the engine-wide mutex from
 * begin to commit or rollback, and an autocommit statement holds it for the statement), so every
 * transaction is serializable and no two can hold conflicting locks. Hints that would make
 * SQL Server do something observable other than block (NOLOCK reading uncommitted rows, READPAST
 * skipping locked rows, NOWAIT failing at once) are refused instead.
 */
const DROPPED_HINTS = new Set(
  'UPDLOCK SERIALIZABLE HOLDLOCK ROWLOCK PAGLOCK TABLOCK TABLOCKX XLOCK READCOMMITTED READCOMMITTEDLOCK REPEATABLEREAD'.split(
    ' ',
  ),
);
const REFUSED_HINTS = new Set(
  'NOLOCK READUNCOMMITTED READPAST NOWAIT SNAPSHOT FORCESEEK FORCESCAN INDEX NOEXPAND'.split(' '),
);

const PUNCT = new Set(['=', '<', '>', '<=', '>=', '<>', '!=', '+', '-', '*', '/', '%', '.', '&', '|', '~']);

const isHintList = (tokens: readonly Token[], at: number): boolean => {
  const first = tokens[at + 2];
  return (
    isWord(tokens[at], 'WITH') &&
    isPunct(tokens[at + 1], '(') &&
    first?.kind === 'word' &&
    (DROPPED_HINTS.has(first.upper) || REFUSED_HINTS.has(first.upper))
  );
};

/** Records the common table expressions a `WITH` at `at` defines. */
const noteCtes = (ctx: TranslateContext, tokens: readonly Token[], at: number): void => {
  let i = at + 1;
  for (;;) {
    if (!isName(tokens[i])) return;
    ctx.ctes.add(nameOf(tokens[i]).toLowerCase());
    i++;
    if (isPunct(tokens[i], '(')) i = matchParen(tokens, i) + 1;
    if (!isWord(tokens[i], 'AS') || !isPunct(tokens[i + 1], '(')) return;
    i = matchParen(tokens, i + 1) + 1;
    if (!isPunct(tokens[i], ',')) return;
    i++;
  }
};

/**
 * Translates the DML in `tokens[from, to)` to PostgreSQL. Each parenthesised range is translated
 * on its own, so `TOP (n)` becomes a `LIMIT n` at the end of the query level it belongs to.
 */
export const emitRange = (
  ctx: TranslateContext,
  tokens: readonly Token[],
  from: number,
  to: number,
): string => {
  const emit = (a: number, b: number): string => emitRange(ctx, tokens, a, b);
  const out: string[] = [];
  let expect: Permission | null = null;
  let inFrom = false;
  let inSet = false;
  let limit: string | null = null;
  let verb: string | null = null;
  let target: Access | null = null;
  let i = from;
  while (i < to) {
    const t = tokens[i] as Token;
    const next = tokens[i + 1];
    if (t.kind === 'punct') {
      if (t.text === '(') {
        const close = matchParen(tokens, i);
        if (close >= to) throw syntaxError('(');
        out.push(`(${emit(i + 1, close)})`);
        i = close + 1;
        expect = null;
        continue;
      }
      if (t.text === ',') {
        if (inFrom) expect = 'SELECT';
        out.push(',');
      } else if (t.text === '!<') out.push('>=');
      else if (t.text === '!>') out.push('<=');
      else if (PUNCT.has(t.text)) out.push(t.text);
      else if (t.text === '^' || t.text === '+=' || t.text === '-=' || t.text === '*=' || t.text === '/=')
        throw notSupported(t.text);
      else throw syntaxError(t.text);
      i++;
      continue;
    }
    if (t.kind === 'string') {
      out.push(quoteString(t.text));
      i++;
      continue;
    }
    if (t.kind === 'number') {
      out.push(t.text);
      i++;
      continue;
    }
    if (t.kind === 'binary') {
      out.push(`'\\x${t.text}'::bytea`);
      i++;
      continue;
    }
    if (t.kind === 'param') {
      if (
        verb === 'SELECT' &&
        !inFrom &&
        isPunct(next, '=') &&
        (isWord(tokens[i - 1], 'SELECT') || isPunct(tokens[i - 1], ','))
      ) {
        throw notSupported('SELECT @variable = (assignment)');
      }
      out.push(paramRef(ctx, t));
      i++;
      continue;
    }
    if (t.kind === 'sysvar') {
      if (t.upper === '@@ROWCOUNT') {
        ctx.params.push({ kind: 'rowcount' });
        out.push(`$${ctx.params.length}::integer`);
      } else if (t.upper === '@@TRANCOUNT') out.push(ctx.inTransaction ? '1' : '0');
      else if (t.upper === '@@VERSION')
        out.push(quoteString('Microsoft SQL Server 2022 (keyless-worker stand-in on PostgreSQL)'));
      else throw notSupported(t.text);
      i++;
      continue;
    }
    if (t.kind === 'temp') throw notSupported(`${t.text} (temporary table)`);
    const afterDot = isPunct(tokens[i - 1], '.') && i > from;
    if (t.kind === 'word' && !afterDot && (expect === null || t.upper === 'OPENJSON' || t.upper === 'TOP')) {
      const u = t.upper;
      if (verb === null && (u === 'SELECT' || u === 'INSERT' || u === 'UPDATE' || u === 'DELETE')) verb = u;
      if (REFUSED.has(u)) throw notSupported(u);
      if (u === 'TOP') {
        const afterSelect =
          isWord(tokens[i - 1], 'SELECT') ||
          (isWord(tokens[i - 1], 'DISTINCT') && isWord(tokens[i - 2], 'SELECT'));
        if (!afterSelect) throw notSupported(`${verb ?? ''} TOP`.trim());
        let end: number;
        if (isPunct(next, '(')) {
          end = matchParen(tokens, i + 1);
          limit = emit(i + 2, end);
          end++;
        } else if (next?.kind === 'number' || next?.kind === 'param') {
          limit = emit(i + 1, i + 2);
          end = i + 2;
        } else throw syntaxError('TOP');
        if (isWord(tokens[end], 'PERCENT')) throw notSupported('TOP … PERCENT');
        if (isWord(tokens[end], 'WITH') && isWord(tokens[end + 1], 'TIES'))
          throw notSupported('TOP … WITH TIES');
        i = end;
        continue;
      }
      if (u === 'WITH') {
        if (isHintList(tokens, i)) {
          const close = matchParen(tokens, i + 1);
          for (let h = i + 2; h < close; h++) {
            const hint = tokens[h];
            if (hint?.kind === 'word' && !DROPPED_HINTS.has(hint.upper)) throw notSupported(hint.upper);
          }
          i = close + 1;
          continue;
        }
        if (i === from) noteCtes(ctx, tokens, i);
        else throw syntaxError('WITH');
      }
      if (u === 'OPENJSON') {
        const r = translateOpenJson(ctx, tokens, i, emit);
        out.push(r.sql);
        i = r.next;
        expect = null;
        continue;
      }
      if ((u === 'CROSS' || u === 'OUTER') && isWord(next, 'APPLY')) {
        if (u === 'OUTER') throw notSupported('OUTER APPLY');
        out.push('CROSS JOIN LATERAL');
        inFrom = true;
        i += 2;
        continue;
      }
      const constant = niladic(ctx, u);
      if (constant !== undefined) {
        out.push(constant);
        i++;
        continue;
      }
      // LEFT( and RIGHT( are the string functions, not joins.
      const alias = UNRESERVED.has(u) && isWord(tokens[i - 1], 'AS');
      if (KEYWORDS.has(u) && !alias && !((u === 'LEFT' || u === 'RIGHT') && isPunct(next, '('))) {
        out.push(u);
        i++;
        switch (u) {
          case 'FROM':
            inSet = false;
            inFrom = true;
            if (verb === 'DELETE' && target) throw notSupported('DELETE … FROM … (a join)');
            expect = verb === 'DELETE' ? 'DELETE' : 'SELECT';
            break;
          case 'JOIN':
            expect = 'SELECT';
            break;
          case 'INTO':
            if (verb === 'SELECT') throw notSupported('SELECT … INTO');
            expect = 'INSERT';
            break;
          case 'INSERT':
            if (!isWord(next, 'INTO')) {
              out.push('INTO');
              expect = 'INSERT';
            }
            break;
          case 'UPDATE':
            expect = 'UPDATE';
            break;
          case 'DELETE':
            if (!isWord(next, 'FROM')) {
              out.push('FROM');
              expect = 'DELETE';
            }
            break;
          case 'SET':
            inSet = verb === 'UPDATE';
            break;
          case 'WHERE':
            inSet = false;
            inFrom = false;
            // Reading the target's rows to filter them needs SELECT on it, as in SQL Server.
            if (target && (verb === 'UPDATE' || verb === 'DELETE'))
              ctx.access.push({ ...target, permission: 'SELECT' });
            break;
          case 'ON':
          case 'GROUP':
          case 'ORDER':
          case 'HAVING':
          case 'UNION':
          case 'EXCEPT':
          case 'INTERSECT':
            inFrom = false;
            break;
        }
        continue;
      }
      if (isPunct(next, '(') && !ctx.ctes.has(u.toLowerCase())) {
        const r = translateFunction(ctx, tokens, i, emit);
        out.push(r.sql);
        i = r.next;
        continue;
      }
    }
    if (!isName(t)) throw syntaxError(tokenText(t));
    const { parts, next: after } = readMultipart(tokens, i);
    if (expect !== null) {
      if (parts.length === 1 && ctx.ctes.has((parts[0] as string).toLowerCase())) {
        out.push(quoteIdent(parts[0] as string));
      } else {
        const { schema, table } = resolveTable(ctx, parts);
        const access: Access = { schema, table, permission: expect };
        ctx.access.push(access);
        if (expect !== 'SELECT') target = access;
        noteName(ctx, table);
        out.push(`${quoteIdent(schema)}.${quoteIdent(table)}`);
      }
      expect = null;
    } else if (
      inSet &&
      isPunct(tokens[after], '=') &&
      (isWord(tokens[i - 1], 'SET') || isPunct(tokens[i - 1], ','))
    ) {
      // PostgreSQL's SET takes the bare column: `SET o.Status =` would read as a composite field.
      const column = parts[parts.length - 1] as string;
      noteName(ctx, column);
      out.push(quoteIdent(column));
    } else {
      for (const p of parts) noteName(ctx, p);
      out.push(parts.map(quoteIdent).join('.'));
    }
    i = after;
  }
  if (limit !== null) out.push(`LIMIT ${limit}`);
  return out.join(' ');
};
