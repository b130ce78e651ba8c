/**
 * The seam between the TDS wire protocol (tds/) and the SQL engine that executes T-SQL (engine/).
 * The wire side decodes packets into these calls and encodes what they return; the engine side
 * translates T-SQL for a real SQL engine and answers with SQL Server's error numbers.
 */

/** A value as it crosses the seam. DECIMAL travels as a string to keep its digits exact. */
export type SqlValue = null | boolean | number | bigint | string | Buffer | Date;

/** SQL Server column types the stand-in can return in COLMETADATA. */
export type SqlColumnType =
  | { kind: 'bit' }
  | { kind: 'int' }
  | { kind: 'bigint' }
  | { kind: 'float' }
  | { kind: 'decimal'; precision: number; scale: number }
  /** `length` in characters; undefined = MAX. */
  | { kind: 'nvarchar'; length?: number }
  | { kind: 'varbinary'; length?: number }
  | { kind: 'uniqueidentifier' }
  | { kind: 'datetime2'; scale: number }
  | { kind: 'datetimeoffset'; scale: number };

export type ColumnMeta = { name: string; type: SqlColumnType; nullable: boolean };

export type ResultSet = { columns: ColumnMeta[]; rows: SqlValue[][] };

/**
 * What one statement produced: a result set, or a row count (DONE token with DONE_COUNT),
 * in the order the statements ran.
 */
export type StatementResult = { kind: 'rows'; resultSet: ResultSet } | { kind: 'count'; rowCount: number };

/** A parameter of `sp_executesql`: its name with `@`, its declared T-SQL type text, its value. */
export type SqlParam = { name: string; declaredType: string; value: SqlValue };

/** An error as SQL Server reports it (ERROR token): tedious exposes `number` on RequestError. */
export type SqlServerErrorInfo = { number: number; state: number; severity: number; message: string };

export class SqlServerError extends Error {
  readonly number: number;
  readonly state: number;
  readonly severity: number;
  constructor(info: SqlServerErrorInfo) {
    super(info.message);
    this.name = 'SqlServerError';
    this.number = info.number;
    this.state = info.state;
    this.severity = info.severity;
  }
}

export type IsolationLevel =
  | 'read uncommitted'
  | 'read committed'
  | 'repeatable read'
  | 'serializable'
  | 'snapshot';

/** One TDS connection's session: a user in a database. Statements outside a transaction autocommit. */
export type SqlSession = {
  readonly user: string;
  readonly database: string;
  /** Runs a batch (several statements) or, with params, the `@statement` of `sp_executesql`. Throws SqlServerError. */
  execute(sql: string, params?: readonly SqlParam[]): Promise<StatementResult[]>;
  /** Bulk load (`insert bulk`): rows for `table` in the given column order. */
  bulkInsert(table: string, columns: readonly string[], rows: readonly SqlValue[][]): Promise<number>;
  begin(isolation: IsolationLevel): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  readonly inTransaction: boolean;
  /** Rolls back an open transaction. Idempotent. */
  close(): Promise<void>;
};

export type SqlEngine = {
  /** Whether `user` exists in `database` (created FROM EXTERNAL PROVIDER, or a password login's user). */
  hasUser(database: string, user: string): boolean;
  /** Checks a SQL-authentication login (`SQL_AUTH=password`, local runs only). */
  checkPassword(login: string, password: string): boolean;
  hasDatabase(database: string): boolean;
  openSession(database: string, user: string): Promise<SqlSession>;
  close(): Promise<void>;
};
