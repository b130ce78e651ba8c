import type { TokenCredential } from '@azure/identity';
import type { Config } from '../config.ts';
import type { IdentityDescription } from '../identity/describe.ts';
import type { StartContext } from '../lifecycle.ts';
import { checkSqlAccess } from './access-check.ts';
import type { SqlAuthentication } from './connection.ts';
import { createSqlPool, type SqlPool } from './pool.ts';

/**
 * tedious' authentication for the configured kind: the managed identity's token, or a local
 * password (which needs no credential, so a script on a local SQL Server asks no identity).
 */
export function sqlAuthentication(
  auth: Config['sql']['auth'],
  credential: TokenCredential | undefined,
): SqlAuthentication {
  if (auth.kind === 'password') {
    return { type: 'default', options: { userName: auth.user, password: auth.password } };
  }
  if (!credential) throw new Error('SQL_AUTH=token needs a credential');
  return { type: 'token-credential', options: { credential } };
}

/**
 * The connection pool, checked at start: an unreachable database, a missing user or a schema not
 * migrated fails the start rather than the first message. Readiness runs a `SELECT 1`.
 */
export async function startSqlPool(
  config: Config['sql'],
  credential: TokenCredential,
  identity: IdentityDescription,
  ctx: StartContext,
): Promise<SqlPool> {
  const pool = createSqlPool({
    server: config.server,
    port: config.port,
    database: config.database,
    authentication: sqlAuthentication(config.auth, credential),
    encrypt: config.encrypt,
    trustServerCertificate: config.trustServerCertificate,
    max: config.poolMax,
    tokenMaxAgeMs: config.tokenMaxAgeMs,
    logger: ctx.logger.child({ component: 'sql' }),
  });
  ctx.closer.add('sql pool', () => pool.close());
  await checkSqlAccess(pool, {
    server: config.server,
    database: config.database,
    identity: config.auth.kind === 'token' ? identity : undefined,
    schemaWaitMs: config.schemaWaitMs,
    logger: ctx.logger.child({ component: 'sql' }),
    signal: ctx.signal,
  });
  ctx.logger.info({ server: config.server, database: config.database }, 'sql ready');
  ctx.readiness?.add('sql', async () => {
    const s = pool.stats();
    // Every connection lent out to writes: the pool is working; waiting for one would only report load.
    if (s.idle === 0 && s.open >= config.poolMax) return;
    await pool.query('SELECT 1 AS ok');
  });
  return pool;
}
