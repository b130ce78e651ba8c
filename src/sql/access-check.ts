import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { defaults } from '../defaults.ts';
import { AccessError, identityName, who } from '../identity/access-error.ts';
import type { IdentityDescription } from '../identity/describe.ts';
import type { SqlClient } from './client.ts';
import { isSqlError } from './errors.ts';

/**
 * Reads the inbox at start: fails with the fix when the database has no user for the identity or
 * the user cannot read. (Write rights show on the first batch.)
 * A transient failure (a failover, throttling) is retried with backoff for `transientRetryMs`: a
 * replica that starts during a database blip waits it out instead of exiting.
 * A schema that is not there yet is waited for, up to `schemaWaitMs`: the migration job may still
 * be running. The replica stays up and not ready meanwhile, instead of exiting into the platform's
 * restart back-off, and starts within `schemaPollMs` of the migration's end.
 * @throws AccessError `MissingDatabaseUser`, `MissingDatabasePermission`, or `SchemaNotMigrated`
 *   once `schemaWaitMs` is spent; SqlError otherwise.
 */
export async function checkSqlAccess(
  db: SqlClient,
  context: {
    server: string;
    database: string;
    identity: IdentityDescription | undefined;
    /** @defaultValue 60000 */
    transientRetryMs?: number;
    /** @defaultValue 600000 (the migration job's time limit) */
    schemaWaitMs?: number;
    /** @defaultValue 5000 */
    schemaPollMs?: number;
    /** Says once that start waits for the schema, and when it came. @defaultValue no logging */
    logger?: Pick<Logger, 'warn' | 'info'>;
    signal?: AbortSignal;
  },
): Promise<void> {
  const schemaWaitMs = context.schemaWaitMs ?? defaults.sqlSchemaWaitMs;
  const schemaPollMs = context.schemaPollMs ?? 5_000;
  let transientDeadline: number | undefined;
  let waitingSince: number | undefined;
  for (let delayMs = 250; ; ) {
    try {
      await readInbox(db, context);
      if (waitingSince !== undefined)
        context.logger?.info({ waitedMs: Date.now() - waitingSince }, 'database schema found: starting');
      return;
    } catch (error: unknown) {
      if ((error as { code?: string }).code === 'SchemaNotMigrated') {
        transientDeadline = undefined;
        if (waitingSince === undefined) {
          waitingSince = Date.now();
          context.logger?.warn(
            { server: context.server, database: context.database, waitMs: schemaWaitMs },
            'database schema not there yet: waiting for the migrations (the migration job, or npm run migrate)',
          );
        }
        if (Date.now() + schemaPollMs > waitingSince + schemaWaitMs) throw error;
        await sleep(schemaPollMs, undefined, { signal: context.signal });
        continue;
      }
      if (!isSqlError(error) || !error.transient) throw error;
      transientDeadline ??= Date.now() + (context.transientRetryMs ?? defaults.sqlStartupRetryMs);
      if (Date.now() + delayMs > transientDeadline) throw error;
      await sleep(delayMs * (0.8 + Math.random() * 0.4), undefined, { signal: context.signal });
      delayMs = Math.min(delayMs * 2, 5_000);
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
    if (!isSqlError(error)) throw error;
    const where = `database '${context.database}' on ${context.server}`;
    if (error.number === 208) {
      throw new AccessError(
        'SchemaNotMigrated',
        `dbo.Inbox does not exist in ${where}: run the migrations first (the migration job, or npm run migrate as an identity with db_ddladmin).`,
        { cause: error },
      );
    }
    if (!context.identity) throw error;
    const name = identityName(context.identity);
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
    throw error;
  }
}
