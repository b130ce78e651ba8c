import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

const minimal = {
  SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: 'orders.servicebus.windows.net',
  SERVICEBUS_QUEUE: 'orders',
  SQL_SERVER: 'orders.database.windows.net',
  SQL_DATABASE: 'orders',
};

const problemsOf = (env: Record<string, string | undefined>) => {
  try {
    loadConfig(env);
  } catch (e: unknown) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
};

describe('configuration from the environment', () => {
  it('stops with the name of every missing variable', () => {
    const error = problemsOf({});
    expect(error.problems.map((p) => p.variable).sort()).toEqual(
      ['SERVICEBUS_FULLY_QUALIFIED_NAMESPACE', 'SQL_DATABASE', 'SQL_SERVER'].sort(),
    );
    expect(error.message).toMatch(/SQL_SERVER: is required but not set/);
  });

  it('asks for a queue or a topic with its subscription', () => {
    const { SERVICEBUS_QUEUE: _, ...noQueue } = minimal;
    expect(problemsOf(noQueue).message).toMatch(/SERVICEBUS_QUEUE: is required/);
    expect(problemsOf({ ...noQueue, SERVICEBUS_TOPIC: 'orders' }).message).toMatch(
      /SERVICEBUS_SUBSCRIPTION: is required with SERVICEBUS_TOPIC/,
    );
    const topic = loadConfig({ ...noQueue, SERVICEBUS_TOPIC: 'orders', SERVICEBUS_SUBSCRIPTION: 'worker' });
    expect(topic.serviceBus.entity).toEqual({ topic: 'orders', subscription: 'worker' });
  });

  it('refuses a lock renewal shorter than the shutdown grace period, naming both', () => {
    // A message still draining must keep its lock, or another replica gets it while it is written.
    const error = problemsOf({
      ...minimal,
      SERVICEBUS_LOCK_RENEWAL_MAX_MS: '1000',
      SHUTDOWN_GRACE_MS: '5000',
    });
    expect(error.message).toMatch(
      /SERVICEBUS_LOCK_RENEWAL_MAX_MS: must be at least SHUTDOWN_GRACE_MS \(5000\)/,
    );
  });

  it('names a malformed value and what it expects', () => {
    const error = problemsOf({
      ...minimal,
      SQL_PORT: 'fourteen',
      AZURE_CLIENT_ID: 'not-a-guid',
      SQL_AUTH: 'kerberos',
    });
    expect(error.message).toMatch(/SQL_PORT: expected a whole number/);
    expect(error.message).toMatch(/AZURE_CLIENT_ID: expected a GUID/);
    expect(error.message).toMatch(/SQL_AUTH: expected one of token, password/);
  });

  it('serves the ops endpoints on every interface unless HTTP_HOST names one address', () => {
    expect(loadConfig(minimal).http).toEqual({ port: 8080, host: '0.0.0.0' });
    expect(loadConfig({ ...minimal, HTTP_HOST: '127.0.0.1' }).http.host).toBe('127.0.0.1');
    expect(problemsOf({ ...minimal, HTTP_HOST: 'http://localhost' }).message).toMatch(
      /HTTP_HOST: expected an address such as 0\.0\.0\.0, 127\.0\.0\.1 or ::/,
    );
  });

  it('refuses a connection string where a namespace belongs', () => {
    const error = problemsOf({
      ...minimal,
      SERVICEBUS_FULLY_QUALIFIED_NAMESPACE:
        'Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s',
    });
    expect(error.message).toMatch(/SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: expected a host name/);
  });

  it('refuses password authentication against Azure SQL', () => {
    const error = problemsOf({ ...minimal, SQL_AUTH: 'password', SQL_USER: 'sa', SQL_PASSWORD: 'x' });
    expect(error.message).toMatch(/SQL_AUTH: 'password' is for local SQL Server only/);
  });

  it('refuses to skip the certificate check of Azure SQL', () => {
    const error = problemsOf({ ...minimal, SQL_TRUST_SERVER_CERTIFICATE: 'true' });
    expect(error.message).toMatch(/SQL_TRUST_SERVER_CERTIFICATE: 'true' is for local SQL Server only/);
  });

  it('trusts a local SQL Server certificate only when asked, keeping the connection encrypted', () => {
    const local = { ...minimal, SQL_SERVER: 'localhost' };
    expect(loadConfig(local).sql).toMatchObject({ encrypt: true, trustServerCertificate: false });
    expect(loadConfig({ ...local, SQL_TRUST_SERVER_CERTIFICATE: 'true' }).sql).toMatchObject({
      encrypt: true,
      trustServerCertificate: true,
    });
    expect(problemsOf({ ...local, SQL_TRUST_SERVER_CERTIFICATE: 'yes' }).message).toMatch(
      /SQL_TRUST_SERVER_CERTIFICATE: expected one of true, false/,
    );
  });

  it('refuses the master database, where the identity has no user', () => {
    expect(problemsOf({ ...minimal, SQL_DATABASE: 'master' }).message).toMatch(
      /SQL_DATABASE: must name the application database/,
    );
  });

  it('applies the documented defaults and freezes the result', () => {
    const config = loadConfig(minimal);
    expect(config.identity).toEqual({
      credential: 'managed-identity',
      clientId: undefined,
      startupTimeoutMs: 60_000,
    });
    expect(config.serviceBus.concurrency).toBe(256);
    expect(config.sql).toMatchObject({
      port: 1433,
      auth: { kind: 'token' },
      encrypt: true,
      tokenMaxAgeMs: 2_700_000,
    });
    expect(config.batch).toEqual({ maxSize: 100, flushMs: 5 });
    expect(Object.isFrozen(config.sql)).toBe(true);
    expect(() => {
      (config.sql as { port: number }).port = 1;
    }).toThrow(TypeError);
  });
});
