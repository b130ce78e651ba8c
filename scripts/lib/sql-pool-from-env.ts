import { createCredential } from '../../src/identity/credential.ts';
import type { SqlAuthentication } from '../../src/sql/connection.ts';
import { createSqlPool, type SqlPool } from '../../src/sql/pool.ts';
import { findLocalStack, useLocalStack } from './local-stack.ts';

/**
 * A SQL pool for a script. SQL_SERVER / SQL_PORT / SQL_DATABASE from the environment when set
 * (with SQL_AUTH=password for a local SQL Server, else the configured identity); otherwise the
 * running local stack (`.local/stack.json`), as `who`. Exits with a message when neither is there.
 */
export function sqlPoolFromEnv(who: 'worker' | 'operator'): { pool: SqlPool; target: string } {
  const env = process.env;
  const stack =
    env.SQL_SERVER && (env.IDENTITY_ENDPOINT || env.AZURE_CREDENTIAL) ? undefined : findLocalStack();
  if (!env.SQL_SERVER && !stack) {
    console.error(
      'No SQL_SERVER in the environment and no local stack running: start one with `npm start` or `npm run stack`.',
    );
    process.exit(1);
  }
  const server = env.SQL_SERVER ?? stack?.sql.server ?? '';
  const port = env.SQL_SERVER ? Number(env.SQL_PORT ?? 1433) : (stack?.sql.port ?? 1433);
  const database = env.SQL_SERVER ? env.SQL_DATABASE : stack?.sql.database;
  if (!database) {
    console.error('SQL_DATABASE is required with SQL_SERVER (the identity has no user in master).');
    process.exit(1);
  }
  let authentication: SqlAuthentication;
  let as: string;
  if (env.SQL_AUTH === 'password') {
    authentication = {
      type: 'default',
      options: { userName: env.SQL_USER ?? '', password: env.SQL_PASSWORD ?? '' },
    };
    as = `SQL login ${env.SQL_USER}`;
  } else {
    if (stack && !env.IDENTITY_ENDPOINT) useLocalStack(stack, who);
    const credential = createCredential({
      kind: env.AZURE_CREDENTIAL === 'developer' ? 'developer' : 'managed-identity',
      clientId: process.env.AZURE_CLIENT_ID,
    });
    authentication = { type: 'token-credential', options: { credential } };
    as = stack ? `the local stack's ${who} identity (pid ${stack.pid})` : 'the configured identity';
  }
  const pool = createSqlPool({
    server,
    port,
    database,
    authentication,
    encrypt: env.SQL_ENCRYPT !== 'false',
    max: 2,
  });
  return { pool, target: `${server}:${port}/${database} as ${as}` };
}
