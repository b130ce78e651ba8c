/**
 * Why a SQL call failed, as a closed set: callers decide on `transient` (retry later) and on
 * `code` (whose fault it is), never on driver error classes.
 */
export type SqlErrorCode =
  /** The server chose this transaction as a deadlock victim (1205). */
  | 'Deadlock'
  /** Azure SQL is throttling or out of resources (40501, 49918–49920, 10928, 10929). */
  | 'Throttled'
  /** The database is unavailable, moving or failed the request (40613, 40197, 4060, 4221). */
  | 'Unavailable'
  /** A connect, login or request timed out. */
  | 'Timeout'
  /** The connection was closed or reset under the request. */
  | 'ConnectionLost'
  /** TLS refused the server's certificate (untrusted, expired, wrong name): no retry fixes that. */
  | 'CertificateRejected'
  /** The login was refused: unknown principal, expired token, no user in the database. */
  | 'LoginFailed'
  /** The identity lacks a permission (229, 230, 262, 1088, 3701). */
  | 'PermissionDenied'
  /** The data broke a rule of the schema: key, NOT NULL, CHECK, foreign key (2627, 2601, 515, 547). */
  | 'ConstraintViolation'
  /** A value could not be converted or did not fit (245, 8114, 8115, 2628, 8152, 241, 8169, 13609). */
  | 'InvalidData'
  /** The statement itself is wrong for this database: syntax, unknown object or column. */
  | 'InvalidStatement'
  /** No connection became free within the pool's acquire timeout. */
  | 'PoolExhausted'
  /** The pool was closed. */
  | 'PoolClosed'
  | 'Other';

export type SqlErrorOptions = {
  code: SqlErrorCode;
  transient: boolean;
  /** SQL Server's error number, when the server sent one. */
  number?: number;
  cause?: unknown;
};

/** The one error the SQL layer throws: normalised once, in classify.ts, with the driver error as `cause`. */
export class SqlError extends Error {
  readonly code: SqlErrorCode;
  readonly transient: boolean;
  readonly number: number | undefined;
  constructor(message: string, options: SqlErrorOptions) {
    super(message, { cause: options.cause });
    this.name = 'SqlError';
    this.code = options.code;
    this.transient = options.transient;
    this.number = options.number;
  }
}

/** Detects a SqlError by name, so errors that crossed a module or realm boundary still count. */
export const isSqlError = (e: unknown): e is SqlError =>
  e instanceof Error && e.name === 'SqlError' && typeof (e as SqlError).transient === 'boolean';
