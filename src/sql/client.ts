/** Parameter types the SQL layer sends; each maps to one tedious type. */
export type SqlParamType =
  | 'nvarchar'
  | 'int'
  | 'bigint'
  | 'bit'
  | 'decimal'
  | 'uniqueidentifier'
  | 'datetime2'
  | 'datetimeoffset';

export type SqlParam = { type: SqlParamType; value: string | number | bigint | boolean | Date | null };
export type SqlParams = Readonly<Record<string, SqlParam>>;
export type SqlRow = Record<string, unknown>;
/** Rows of the last result set, and the rows the statements affected. */
export type SqlResult = { rows: SqlRow[]; rowCount: number };

/** Runs T-SQL: with `params` as one parameterized statement (sp_executesql), without as a batch. */
export type SqlExecutor = { query(sql: string, params?: SqlParams): Promise<SqlResult> };

/** One logged-in session. Errors are SqlError (classify.ts). */
export type SqlConnection = SqlExecutor & {
  begin(): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  close(): Promise<void>;
  /** Whether the connection is unusable (closed by either side, or broken by an error). */
  readonly broken: boolean;
  /** When the token it logged in with expires (ms since epoch), when known. */
  readonly tokenExpiresAt: number | undefined;
};

/** What the writer and migrations use: a pool, or one connection wrapped by `singleConnectionClient`. */
export type SqlClient = SqlExecutor & {
  /** Runs `fn` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
};

/** Runs `fn` in a transaction on `connection`; a failed rollback breaks nothing more than the original error. */
export const inTransaction = async <T>(
  connection: SqlConnection,
  fn: (tx: SqlExecutor) => Promise<T>,
): Promise<T> => {
  await connection.begin();
  let result: T;
  try {
    result = await fn(connection);
  } catch (e: unknown) {
    await connection.rollback().catch(() => {});
    throw e;
  }
  await connection.commit();
  return result;
};

/** A SqlClient over one connection the caller owns (scripts, tests). */
export const singleConnectionClient = (connection: SqlConnection): SqlClient => ({
  query: (sql, params) => connection.query(sql, params),
  transaction: (fn) => inTransaction(connection, fn),
});
