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
