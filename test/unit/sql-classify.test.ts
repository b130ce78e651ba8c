import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isExpiredTokenLogin, toSqlError } from '../../src/sql/classify.ts';
import { SqlError } from '../../src/sql/errors.ts';

/** A tedious RequestError as the driver raises it for an ERROR token. */
const requestError = (number: number, message = `error ${number}`) =>
  Object.assign(new Error(message), { name: 'RequestError', code: 'EREQUEST', number });
const connectionError = (code: string, extra: object = {}) =>
  Object.assign(new Error(code), { name: 'ConnectionError', code, ...extra });

describe('SQL error classification', () => {
  it.each([
    [1205, 'Deadlock'],
    [40501, 'Throttled'],
    [40613, 'Unavailable'],
    [49918, 'Throttled'],
    [49919, 'Throttled'],
    [49920, 'Throttled'],
    [4060, 'Unavailable'],
    [10928, 'Throttled'],
    [10929, 'Throttled'],
    [4221, 'Unavailable'],
    [1222, 'Timeout'],
  ])('treats SQL error %i as transient (%s)', (number, code) => {
    expect(toSqlError(requestError(number))).toMatchObject({
      name: 'SqlError',
      transient: true,
      code,
      number,
    });
  });

  it.each([
    [2627, 'ConstraintViolation'],
    [2601, 'ConstraintViolation'],
    [515, 'ConstraintViolation'],
    [547, 'ConstraintViolation'],
    [245, 'InvalidData'],
    [8114, 'InvalidData'],
    [8115, 'InvalidData'],
    [2628, 'InvalidData'],
    [229, 'PermissionDenied'],
    [262, 'PermissionDenied'],
    [208, 'InvalidStatement'],
    [102, 'InvalidStatement'],
    [50000, 'Other'],
  ])('treats SQL error %i as permanent (%s)', (number, code) => {
    expect(toSqlError(requestError(number))).toMatchObject({ transient: false, code, number });
  });

  it('treats a request timeout as transient', () => {
    expect(
      toSqlError(
        Object.assign(new Error('Timeout: Request failed to complete in 30000ms'), { code: 'ETIMEOUT' }),
      ),
    ).toMatchObject({ transient: true, code: 'Timeout' });
  });

  it('treats a closed or reset socket as transient', () => {
    expect(
      toSqlError(
        connectionError('ESOCKET', {
          cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
        }),
      ),
    ).toMatchObject({ transient: true, code: 'ConnectionLost' });
    expect(toSqlError(connectionError('ECLOSE'))).toMatchObject({ transient: true, code: 'ConnectionLost' });
  });

  it("follows tedious' isTransient on connection errors", () => {
    expect(toSqlError(connectionError('ELOGIN', { isTransient: true }))).toMatchObject({ transient: true });
    expect(toSqlError(connectionError('ELOGIN'))).toMatchObject({ transient: false, code: 'LoginFailed' });
  });

  it('treats anything else as permanent and keeps the original as cause', () => {
    const original = new TypeError('boom');
    const e = toSqlError(original);
    expect(e).toMatchObject({ transient: false, code: 'Other' });
    expect(e.cause).toBe(original);
  });

  it('normalises once: a SqlError passes through unchanged', () => {
    const e = new SqlError('x', { code: 'Timeout', transient: true });
    expect(toSqlError(e)).toBe(e);
  });

  it('treats a login without a token as transient while the token endpoint is down, permanent when the identity is refused', () => {
    // As tedious throws it: its EFEDAUTH error beside the credential's.
    const noToken = (credential: object) =>
      new AggregateError([
        connectionError('EFEDAUTH', { message: 'Security token could not be authenticated or authorized.' }),
        credential,
      ]);
    const down = Object.assign(new Error('endpoint answered 500'), {
      name: 'AuthenticationError',
      statusCode: 500,
    });
    const unreachable = Object.assign(new Error('connect ECONNREFUSED'), {
      name: 'CredentialUnavailableError',
    });
    const refused = Object.assign(new Error('AADSTS700016: application not found'), {
      name: 'AuthenticationError',
      statusCode: 400,
    });
    expect(toSqlError(noToken(down))).toMatchObject({ code: 'Unavailable', transient: true });
    expect(toSqlError(noToken(unreachable))).toMatchObject({ code: 'Unavailable', transient: true });
    expect(toSqlError(noToken(refused))).toMatchObject({ code: 'LoginFailed', transient: false });
    expect(toSqlError(noToken(refused)).message).toContain('AADSTS700016');
  });

  it('recognises a login refused for an expired token', () => {
    const expired = toSqlError(
      connectionError('ELOGIN', {
        message: "Login failed for user '<token-identified principal>'. Token is expired.",
      }),
      18456,
    );
    expect(isExpiredTokenLogin(expired)).toBe(true);
    expect(
      isExpiredTokenLogin(
        toSqlError(connectionError('ELOGIN', { message: "Login failed for user 'x'." }), 18456),
      ),
    ).toBe(false);
  });
});

/**
 * Every error number the SQL stand-in can raise, with the classification it must get. The list of
 * numbers is read from the stand-in's sources, so a number it starts raising without a line here
 * fails the test instead of falling silently to 'Other'.
 */
const intended: Record<number, { transient: boolean; code: string }> = {
  102: { transient: false, code: 'InvalidStatement' },
  105: { transient: false, code: 'InvalidStatement' },
  113: { transient: false, code: 'InvalidStatement' },
  131: { transient: false, code: 'InvalidStatement' },
  137: { transient: false, code: 'InvalidStatement' },
  174: { transient: false, code: 'InvalidStatement' },
  195: { transient: false, code: 'InvalidStatement' },
  206: { transient: false, code: 'InvalidStatement' },
  207: { transient: false, code: 'InvalidStatement' },
  208: { transient: false, code: 'InvalidStatement' },
  209: { transient: false, code: 'InvalidStatement' },
  229: { transient: false, code: 'PermissionDenied' },
  230: { transient: false, code: 'PermissionDenied' },
  241: { transient: false, code: 'InvalidData' },
  245: { transient: false, code: 'InvalidData' },
  262: { transient: false, code: 'PermissionDenied' },
  // A subquery that the data made return more than one row.
  512: { transient: false, code: 'InvalidData' },
  515: { transient: false, code: 'ConstraintViolation' },
  547: { transient: false, code: 'ConstraintViolation' },
  1088: { transient: false, code: 'PermissionDenied' },
  1205: { transient: true, code: 'Deadlock' },
  1222: { transient: true, code: 'Timeout' },
  2601: { transient: false, code: 'ConstraintViolation' },
  2627: { transient: false, code: 'ConstraintViolation' },
  2628: { transient: false, code: 'InvalidData' },
  2705: { transient: false, code: 'InvalidStatement' },
  2714: { transient: false, code: 'InvalidStatement' },
  2715: { transient: false, code: 'InvalidStatement' },
  2750: { transient: false, code: 'InvalidStatement' },
  2760: { transient: false, code: 'InvalidStatement' },
  2812: { transient: false, code: 'InvalidStatement' },
  3701: { transient: false, code: 'PermissionDenied' },
  3726: { transient: false, code: 'InvalidStatement' },
  // COMMIT / ROLLBACK without a transaction: the server already ended it after an earlier error.
  3902: { transient: false, code: 'Other' },
  3903: { transient: false, code: 'Other' },
  4060: { transient: true, code: 'Unavailable' },
  // Informational messages (database and language context changed), never errors.
  5701: { transient: false, code: 'Other' },
  5703: { transient: false, code: 'Other' },
  8114: { transient: false, code: 'InvalidData' },
  8115: { transient: false, code: 'InvalidData' },
  8134: { transient: false, code: 'InvalidData' },
  8152: { transient: false, code: 'InvalidData' },
  8169: { transient: false, code: 'InvalidData' },
  10928: { transient: true, code: 'Throttled' },
  10929: { transient: true, code: 'Throttled' },
  13607: { transient: false, code: 'InvalidStatement' },
  13609: { transient: false, code: 'InvalidData' },
  13618: { transient: false, code: 'InvalidData' },
  15023: { transient: false, code: 'InvalidStatement' },
  15151: { transient: false, code: 'InvalidStatement' },
  15247: { transient: false, code: 'PermissionDenied' },
  18456: { transient: false, code: 'LoginFailed' },
  33130: { transient: false, code: 'InvalidStatement' },
  40197: { transient: true, code: 'Unavailable' },
  40501: { transient: true, code: 'Throttled' },
  40517: { transient: false, code: 'InvalidStatement' },
  40613: { transient: true, code: 'Unavailable' },
  49918: { transient: true, code: 'Throttled' },
  49919: { transient: true, code: 'Throttled' },
  49920: { transient: true, code: 'Throttled' },
  // RAISERROR's default number; the stand-in's own failures (engine closed).
  50000: { transient: false, code: 'Other' },
};

const standInNumbers = (): number[] => {
  const root = fileURLToPath(new URL('../stand-ins/sql/', import.meta.url));
  const found = new Set<number>();
  const patterns = [/\b(?:err|sqlError)\(\s*(\d{3,5})\b/g, /\bnumber:\s*(\d{3,5})\b/g, /\bcase (\d{3,5}):/g];
  for (const file of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts')) continue;
    const text = readFileSync(join(root, file), 'utf8');
    for (const pattern of patterns) for (const m of text.matchAll(pattern)) found.add(Number(m[1]));
  }
  return [...found].sort((a, b) => a - b);
};

describe('classification of every error number the SQL stand-in raises', () => {
  it('has an intended classification for each number found in the stand-in', () => {
    const numbers = standInNumbers();
    expect(numbers.length).toBeGreaterThan(30);
    expect(numbers.filter((n) => !(n in intended))).toEqual([]);
  });

  it.each(Object.entries(intended).map(([n, c]) => [Number(n), c.code, c.transient] as const))(
    'classifies %i as %s (transient: %s)',
    (number, code, transient) => {
      expect(toSqlError(requestError(number))).toMatchObject({ number, code, transient });
    },
  );
});

describe('classification of a refused server certificate', () => {
  it.each(['SELF_SIGNED_CERT_IN_CHAIN', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED'])(
    'treats a socket error caused by %s as permanent, not as a lost connection',
    (tlsCode) => {
      const e = Object.assign(new Error('Failed to connect: certificate refused'), {
        name: 'ConnectionError',
        code: 'ESOCKET',
        cause: Object.assign(new Error('certificate refused'), { code: tlsCode }),
      });
      expect(toSqlError(e)).toMatchObject({ code: 'CertificateRejected', transient: false });
    },
  );
});
