import { createCredential } from '../../src/identity/credential.ts';
import { createSqlPool, type SqlPool } from '../../src/sql/pool.ts';
import { findLocalStack, hasAzureSettings, useLocalStack } from './local-stack.ts';

/**
 * A SQL pool for a script: from SQL_SERVER / SQL_PORT / SQL_DATABASE (+ AZURE_CLIENT_ID) when the
 * environment has Azure settings, else from the running local stack (`.local/stack.json`) as `who`.
 * Exits with a message when neither is there.
 */
export function sqlPoolFromEnv(who: 'worker' | 'operator'): { pool: SqlPool; target: string } {
  let server = process.env.SQL_SERVER;
  let port = Number(process.env.SQL_PORT ?? 1433);
  let database = process.env.SQL_DATABASE;
  let origin = 'environment';
  if (!hasAzureSettings(process.env)) {
    const stack = findLocalStack();
    if (!stack) {
      console.error(
        'No SQL settings in the environment and no local stack running: start one with `npm run stack`.',
      );
      process.exit(1);
    }
    useLocalStack(stack, who);
    ({ server, port, database } = stack.sql);
    origin = `local stack (pid ${stack.pid}) as the ${who} identity`;
  }
  if (!server || !database) {
    console.error('SQL_SERVER and SQL_DATABASE are required (the identity has no user in master).');
    process.exit(1);
  }
  const credential = createCredential({
    kind: process.env.AZURE_CREDENTIAL === 'developer' ? 'developer' : 'managed-identity',
    clientId: process.env.AZURE_CLIENT_ID,
  });
  const pool = createSqlPool({
    server,
    port,
    database,
    authentication: { type: 'token-credential', options: { credential } },
    max: 2,
  });
  return { pool, target: `${server}:${port}/${database} (${origin})` };
}
