import {
  type IsolationLevel,
  type SqlColumnType,
  type SqlEngine,
  type SqlParam,
  SqlServerError,
  type SqlSession,
  type SqlValue,
  type StatementResult,
} from '../engine-api.ts';

/** What the canned engine was asked, for tests to assert on. */
export type CannedCall =
  | { kind: 'execute'; user: string; database: string; sql: string; params: readonly SqlParam[] | undefined }
  | { kind: 'bulk'; table: string; columns: readonly string[]; rows: readonly SqlValue[][] }
  | { kind: 'begin'; isolation: IsolationLevel }
  | { kind: 'commit' | 'rollback' | 'close' };

export type CannedEngineOptions = {
  /** Database name → the users that exist in it. */
  databases: Record<string, readonly string[]>;
  /** SQL logins (local runs only) → password. */
  logins?: Record<string, string>;
  /** Answers a statement; undefined falls back to the built-in answers. */
  answer?: (sql: string, params: readonly SqlParam[] | undefined) => StatementResult[] | undefined;
};

export type CannedEngine = SqlEngine & { calls: CannedCall[]; openSessions(): number };

/** A declared T-SQL type as the column type an echo returns it in. */
export function columnTypeOf(declared: string): SqlColumnType {
  const m = /^\s*(\w+)\s*(?:\(\s*(max|\d+)\s*(?:,\s*(\d+)\s*)?\))?/i.exec(declared);
  const name = (m?.[1] ?? '').toLowerCase();
  const size = m?.[2]?.toLowerCase();
  const length = size === undefined || size === 'max' ? undefined : Number(size);
  switch (name) {
    case 'bit':
      return { kind: 'bit' };
    case 'tinyint':
    case 'smallint':
    case 'int':
      return { kind: 'int' };
    case 'bigint':
      return { kind: 'bigint' };
    case 'float':
    case 'real':
      return { kind: 'float' };
    case 'decimal':
    case 'numeric':
      return { kind: 'decimal', precision: length ?? 18, scale: Number(m?.[3] ?? 0) };
    case 'varbinary':
    case 'binary':
      return { kind: 'varbinary', length };
    case 'uniqueidentifier':
      return { kind: 'uniqueidentifier' };
    case 'date':
      return { kind: 'datetime2', scale: 0 };
    case 'datetime':
      return { kind: 'datetime2', scale: 3 };
    case 'datetime2':
      return { kind: 'datetime2', scale: length ?? 7 };
    case 'datetimeoffset':
      return { kind: 'datetimeoffset', scale: length ?? 7 };
    default:
      return { kind: 'nvarchar', length: size === 'max' ? undefined : (length ?? 4000) };
  }
}

/**
 * Built-in answers: `SELECT <params>` echoes every parameter as a column of its declared type;
 * `FAIL <number>` throws that SQL Server error; `ROWS <n>` returns n rows; `COUNT <n>` a row count;
 * `BEGIN TRAN` / `COMMIT` / `ROLLBACK` drive the session's transaction. Anything else is refused.
 */
function builtIn(sql: string, params: readonly SqlParam[] | undefined): StatementResult[] | 'tx' {
  const text = sql.trim();
  const fail = /^fail\s+(\d+)$/i.exec(text);
  if (fail)
    throw new SqlServerError({
      number: Number(fail[1]),
      state: 1,
      severity: 16,
      message: `canned failure ${fail[1]}`,
    });
  const rows = /^rows\s+(\d+)$/i.exec(text);
  if (rows) {
    const n = Number(rows[1]);
    return [
      {
        kind: 'rows',
        resultSet: {
          columns: [
            { name: 'n', type: { kind: 'int' }, nullable: false },
            { name: 'label', type: { kind: 'nvarchar', length: 20 }, nullable: true },
          ],
          rows: Array.from({ length: n }, (_, i) => [i + 1, i % 2 ? null : `row ${i + 1}`]),
        },
      },
    ];
  }
  const count = /^count\s+(\d+)$/i.exec(text);
  if (count) return [{ kind: 'count', rowCount: Number(count[1]) }];
  if (/^(begin\s+tran(saction)?|commit(\s+tran(saction)?)?|rollback(\s+tran(saction)?)?)$/i.test(text))
    return 'tx';
  if (/^select\b/i.test(text) && params && params.length > 0) {
    return [
      {
        kind: 'rows',
        resultSet: {
          columns: params.map((p) => ({
            name: p.name.replace(/^@/, ''),
            type: columnTypeOf(p.declaredType),
            nullable: true,
          })),
          rows: [params.map((p) => p.value)],
        },
      },
    ];
  }
  throw new SqlServerError({
    number: 102,
    state: 1,
    severity: 15,
    message: `Incorrect syntax near '${text.slice(0, 20)}'.`,
  });
}

/** An engine with canned answers, so the wire side is tested without the real T-SQL engine. */
export function createCannedEngine(options: CannedEngineOptions): CannedEngine {
  const calls: CannedCall[] = [];
  let open = 0;
  const engine: CannedEngine = {
    calls,
    openSessions: () => open,
    hasDatabase: (database) => Object.hasOwn(options.databases, database),
    hasUser: (database, user) => options.databases[database]?.includes(user) ?? false,
    checkPassword: (login, password) => options.logins?.[login] === password,
    async openSession(database, user) {
      open++;
      let inTransaction = false;
      let closed = false;
      const session: SqlSession = {
        user,
        database,
        get inTransaction() {
          return inTransaction;
        },
        async execute(sql, params) {
          calls.push({ kind: 'execute', user, database, sql, params });
          const answered = options.answer?.(sql, params);
          if (answered) return answered;
          const result = builtIn(sql, params);
          if (result !== 'tx') return result;
          const verb = sql.trim().toLowerCase();
          if (verb.startsWith('begin')) await session.begin('read committed');
          else if (verb.startsWith('commit')) await session.commit();
          else await session.rollback();
          return [];
        },
        async bulkInsert(table, columns, rows) {
          calls.push({ kind: 'bulk', table, columns, rows });
          return rows.length;
        },
        async begin(isolation) {
          calls.push({ kind: 'begin', isolation });
          inTransaction = true;
        },
        async commit() {
          calls.push({ kind: 'commit' });
          inTransaction = false;
        },
        async rollback() {
          calls.push({ kind: 'rollback' });
          inTransaction = false;
        },
        async close() {
          if (closed) return;
          closed = true;
          open--;
          if (inTransaction) await session.rollback();
          calls.push({ kind: 'close' });
        },
      };
      return session;
    },
    async close() {},
  };
  return engine;
}
