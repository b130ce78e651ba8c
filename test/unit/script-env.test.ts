import { describe, expect, it } from 'vitest';
import { type LocalStackModule, resolveScriptEnv } from '../../scripts/lib/script-env.ts';
import { loadServiceBusConfig, loadSqlConfig } from '../../src/config.ts';

const stackEnv = {
  KEYLESS_STACK_PID: '4242',
  IDENTITY_ENDPOINT: 'http://127.0.0.1:1/msi/token',
  IDENTITY_HEADER: 'h',
  AZURE_CLIENT_ID: '00000000-0000-0000-0000-00000000000a',
  SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: 'localhost:5671',
  SERVICEBUS_ENDPOINT: 'sb://localhost:5671',
  SERVICEBUS_QUEUE: 'orders',
  SQL_SERVER: 'localhost',
  SQL_PORT: '14330',
  SQL_DATABASE: 'keyless',
};
const fakeStack =
  (calls: string[]): (() => Promise<LocalStackModule>) =>
  async () => ({
    localStackEnv: (who) => {
      calls.push(who);
      return stackEnv;
    },
  });

describe('the settings a script runs with', () => {
  it('takes Service Bus from the local stack when only a local SQL Server is configured (publish no longer refuses)', async () => {
    const calls: string[] = [];
    const configured = {
      SQL_SERVER: 'sqlserver.local',
      SQL_DATABASE: 'app',
      SQL_AUTH: 'password',
      SQL_USER: 'sa',
      SQL_PASSWORD: 'x',
    };
    const { env, fromStack } = await resolveScriptEnv({
      env: configured,
      who: 'publisher',
      needs: ['serviceBus', 'sql'],
      loadLocalStack: fakeStack(calls),
    });
    expect(calls).toEqual(['publisher']);
    expect(fromStack).toEqual({ services: ['serviceBus'], pid: '4242' });
    expect(loadServiceBusConfig(env)).toMatchObject({
      fullyQualifiedNamespace: 'localhost:5671',
      endpoint: 'sb://localhost:5671',
      entity: { queue: 'orders' },
    });
    expect(loadSqlConfig(env)).toMatchObject({ server: 'sqlserver.local', port: 1433, database: 'app' });
    expect(env.AZURE_CLIENT_ID).toBe(stackEnv.AZURE_CLIENT_ID);
  });

  it('does not look for a local stack when every service it needs is configured', async () => {
    const calls: string[] = [];
    const configured = { SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: 'ns.servicebus.windows.net' };
    const { env, fromStack } = await resolveScriptEnv({
      env: configured,
      who: 'publisher',
      needs: ['serviceBus'],
      loadLocalStack: async () => {
        calls.push('loaded');
        return undefined;
      },
    });
    expect(calls).toEqual([]);
    expect(fromStack).toBeUndefined();
    expect(env).toEqual(configured);
  });

  it('keeps a configured identity over the stack’s', async () => {
    const { env } = await resolveScriptEnv({
      env: { AZURE_CLIENT_ID: '00000000-0000-0000-0000-0000000000ff' },
      who: 'worker',
      needs: ['sql'],
      loadLocalStack: fakeStack([]),
    });
    expect(env.AZURE_CLIENT_ID).toBe('00000000-0000-0000-0000-0000000000ff');
    expect(env.SQL_SERVER).toBe('localhost');
    expect(env.SERVICEBUS_QUEUE).toBeUndefined();
  });

  it('gets its SQL settings through the worker’s rules: a password for Azure SQL is refused', () => {
    expect(() =>
      loadSqlConfig({
        SQL_SERVER: 'db.database.windows.net',
        SQL_DATABASE: 'keyless',
        SQL_AUTH: 'password',
        SQL_USER: 'u',
        SQL_PASSWORD: 'p',
      }),
    ).toThrow(/SQL_AUTH: 'password' is for local SQL Server only/);
    expect(() => loadSqlConfig({ SQL_SERVER: 'db.database.windows.net' })).toThrow(
      /SQL_DATABASE: is required/,
    );
  });
});
