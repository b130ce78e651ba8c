import { setTimeout as sleep } from 'node:timers/promises';
import { defaults } from '../defaults.ts';
import { AccessError, identityName, who } from '../identity/access-error.ts';
import type { IdentityDescription } from '../identity/describe.ts';
import type { SqlClient } from './client.ts';
import { isSqlError } from './errors.ts';

/**
 * Reads the inbox once at start: fails with the fix when the database has no user for the identity,
 * the user cannot read, or the migrations have not run. (Write rights show on the first batch.)
 * A transient failure (a failover, throttling) is retried with backoff for `transientRetryMs`: a
 * replica that starts during a database blip waits it out instead of exiting.
 */
export async function checkSqlAccess(
  db: SqlClient,
  context: {
    server: string;
    database: string;
    identity: IdentityDescription | undefined;
    /** @defaultValue 60000 */
    transientRetryMs?: number;
    signal?: AbortSignal;
  },
): Promise<void> {
  const deadline = Date.now() + (context.transientRetryMs ?? defaults.sqlStartupRetryMs);
  for (let delayMs = 250; ; delayMs = Math.min(delayMs * 2, 5_000)) {
    try {
      await readInbox(db, context);
      return;
    } catch (error: unknown) {
      if (!isSqlError(error) || !error.transient || Date.now() + delayMs > deadline) throw error;
      await sleep(delayMs * (0.8 + Math.random() * 0.4), undefined, { signal: context.signal });
    }
  }
}

async function readInbox(
  db: SqlClient,
  context: { server: string; database: string; identity: IdentityDescription | undefined },
): Promise<void> {
  try {
    await db.query('SELECT TOP (0) MessageId FROM dbo.Inbox');
  } catch (error: unknown) {
    if (!isSqlError(error) || !context.identity) throw error;
    const name = identityName(context.identity);
    const where = `database '${context.database}' on ${context.server}`;
    if (error.code === 'LoginFailed') {
      throw new AccessError(
        'MissingDatabaseUser',
        [
          `Azure SQL refused the login of ${who(context.identity)} to ${where}: the database has no user for it (${error.message}).`,
          `Create it, signed in to '${context.database}' as its Microsoft Entra admin:`,
          `  CREATE USER [${name}] FROM EXTERNAL PROVIDER;`,
          `  ALTER ROLE db_datareader ADD MEMBER [${name}];`,
          `  ALTER ROLE db_datawriter ADD MEMBER [${name}];`,
        ].join('\n'),
        { cause: error },
      );
    }
    if (error.code === 'PermissionDenied') {
      throw new AccessError(
        'MissingDatabasePermission',
        `${who(context.identity)} may not read dbo.Inbox in ${where} (${error.message}). Grant it with:\n  ALTER ROLE db_datareader ADD MEMBER [${name}];\n  ALTER ROLE db_datawriter ADD MEMBER [${name}];`,
        { cause: error },
      );
    }
    if (error.number === 208) {
      throw new AccessError(
        'SchemaNotMigrated',
        `dbo.Inbox does not exist in ${where}: run the migrations first (npm run migrate, as an identity with db_ddladmin).`,
        { cause: error },
      );
    }
    throw error;
  }
}
