import { isSqlError, SqlError, type SqlErrorCode } from './errors.ts';

/**
 * The allow-list of transient SQL Server errors: a retry later can succeed without anyone acting.
 * Everything not listed is permanent. Numbers: Azure SQL's documented transient faults.
 */
const TRANSIENT_NUMBERS: ReadonlyMap<number, SqlErrorCode> = new Map([
  [1205, 'Deadlock'],
  [40501, 'Throttled'],
  [40613, 'Unavailable'],
  // The service had an error processing the request (severity 20: the connection ends too).
  [40197, 'Unavailable'],
  [49918, 'Throttled'],
  [49919, 'Throttled'],
  [49920, 'Throttled'],
  [4060, 'Unavailable'],
  [10928, 'Throttled'],
  [10929, 'Throttled'],
  [4221, 'Unavailable'],
  // Lock request timed out (SET LOCK_TIMEOUT): another transaction held the rows; a later try can pass.
  [1222, 'Timeout'],
]);

/** Permanent numbers, grouped so callers can tell a bad message from a bad deployment. */
const PERMANENT_NUMBERS: ReadonlyMap<number, SqlErrorCode> = new Map([
  [2627, 'ConstraintViolation'],
  [2601, 'ConstraintViolation'],
  [515, 'ConstraintViolation'],
  [547, 'ConstraintViolation'],
  [245, 'InvalidData'],
  [241, 'InvalidData'],
  [8114, 'InvalidData'],
  [8115, 'InvalidData'],
  [8169, 'InvalidData'],
  [2628, 'InvalidData'],
  [8152, 'InvalidData'],
  [13609, 'InvalidData'],
  [229, 'PermissionDenied'],
  [230, 'PermissionDenied'],
  [262, 'PermissionDenied'],
  [1088, 'PermissionDenied'],
  [3701, 'PermissionDenied'],
  [18456, 'LoginFailed'],
  [8134, 'InvalidData'],
  [512, 'InvalidData'],
  [13618, 'InvalidData'],
  [15247, 'PermissionDenied'],
  // The statement is wrong for this database: syntax, declarations, names, functions, JSON paths.
  [102, 'InvalidStatement'],
  [105, 'InvalidStatement'],
  [113, 'InvalidStatement'],
  [131, 'InvalidStatement'],
  [137, 'InvalidStatement'],
  [174, 'InvalidStatement'],
  [195, 'InvalidStatement'],
  [206, 'InvalidStatement'],
  [207, 'InvalidStatement'],
  [208, 'InvalidStatement'],
  [209, 'InvalidStatement'],
  [2715, 'InvalidStatement'],
  [2750, 'InvalidStatement'],
  [2812, 'InvalidStatement'],
  [13607, 'InvalidStatement'],
  // DDL and principals (migrations, provisioning): objects, schemas or users that are or are not there.
  [2705, 'InvalidStatement'],
  [2714, 'InvalidStatement'],
  [2760, 'InvalidStatement'],
  [3726, 'InvalidStatement'],
  [15023, 'InvalidStatement'],
  [15151, 'InvalidStatement'],
  [33130, 'InvalidStatement'],
  [40517, 'InvalidStatement'],
]);

/** Node's TLS verdicts on a server certificate: a deployment fault, never transient. */
const CERTIFICATE_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const SOCKET_CODES = new Set(['ESOCKET', 'ECLOSE', 'ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ECONNABORTED']);

type DriverError = {
  name?: string;
  message?: string;
  code?: unknown;
  number?: unknown;
  isTransient?: unknown;
  cause?: unknown;
};

const causeCode = (e: DriverError): string | undefined => {
  const cause = e.cause as DriverError | undefined;
  return typeof cause?.code === 'string' ? cause.code : undefined;
};

/** Errors of the identity library that tedious hands on when it could not get a login token. */
const CREDENTIAL_ERRORS = new Set([
  'CredentialUnavailableError',
  'AuthenticationError',
  'AggregateAuthenticationError',
]);

/**
 * A login that failed because no token came: tedious throws an AggregateError of its EFEDAUTH error
 * and the credential's. The token endpoint down (unreachable, 5xx, throttled) heals by itself, a
 * refused identity (400/401, AADSTS…) does not.
 */
function tokenFailure(e: unknown, message: string): SqlError | undefined {
  const parts = (e as { errors?: unknown }).errors;
  if (!Array.isArray(parts)) return undefined;
  const credential = parts.find((p) =>
    CREDENTIAL_ERRORS.has((p as { name?: string } | undefined)?.name ?? ''),
  ) as { name: string; message?: string; statusCode?: number } | undefined;
  if (!credential) return undefined;
  const status = credential.statusCode;
  const transient =
    credential.name === 'CredentialUnavailableError' ||
    status === undefined ||
    status === 429 ||
    status >= 500;
  const text = `${message}: ${credential.name}: ${credential.message ?? ''}`.trim();
  return new SqlError(text, { code: transient ? 'Unavailable' : 'LoginFailed', transient, cause: e });
}

/**
 * Normalises anything a SQL call threw into a SqlError (once: a SqlError passes through).
 * Transient: tedious ConnectionError.isTransient, the numbers above, timeouts, lost sockets.
 */
export const toSqlError = (e: unknown, loginErrorNumber?: number): SqlError => {
  if (isSqlError(e)) return e;
  const d = (typeof e === 'object' && e !== null ? e : { message: String(e) }) as DriverError;
  const message = d.message ?? String(e);
  const number = typeof d.number === 'number' ? d.number : loginErrorNumber;
  const code = typeof d.code === 'string' ? d.code : undefined;
  const token = tokenFailure(e, message);
  if (token) return token;
  if (number !== undefined && TRANSIENT_NUMBERS.has(number)) {
    return new SqlError(message, {
      code: TRANSIENT_NUMBERS.get(number) as SqlErrorCode,
      transient: true,
      number,
      cause: e,
    });
  }
  if (d.isTransient === true) {
    return new SqlError(message, {
      code: 'Unavailable',
      transient: true,
      ...(number ? { number } : {}),
      cause: e,
    });
  }
  if (CERTIFICATE_CODES.has(causeCode(d) ?? '') || CERTIFICATE_CODES.has(code ?? '')) {
    return new SqlError(message, { code: 'CertificateRejected', transient: false, cause: e });
  }
  if (code === 'ETIMEOUT') return new SqlError(message, { code: 'Timeout', transient: true, cause: e });
  if ((code && SOCKET_CODES.has(code)) || SOCKET_CODES.has(causeCode(d) ?? '')) {
    return new SqlError(message, { code: 'ConnectionLost', transient: true, cause: e });
  }
  if (code === 'ELOGIN')
    return new SqlError(message, {
      code: 'LoginFailed',
      transient: false,
      ...(number ? { number } : {}),
      cause: e,
    });
  if (number !== undefined) {
    return new SqlError(message, {
      code: PERMANENT_NUMBERS.get(number) ?? 'Other',
      transient: false,
      number,
      cause: e,
    });
  }
  return new SqlError(message, { code: 'Other', transient: false, cause: e });
};

/** Whether a login failed because its token had expired: worth one more login with a refreshed token. */
export const isExpiredTokenLogin = (e: SqlError): boolean =>
  e.code === 'LoginFailed' &&
  (e.number === undefined || e.number === 18456) &&
  /token is expired/i.test(e.message);
