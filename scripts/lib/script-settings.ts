import type { TokenCredential } from '@azure/identity';
import {
  type Config,
  type ConfigError,
  loadHandlersConfig,
  loadIdentityConfig,
  loadSqlConfig,
} from '../../src/config.ts';
import { loadHandlers } from '../../src/handlers/load.ts';
import { createHandlerRegistry, type HandlerRegistry } from '../../src/handlers/registry.ts';
import { createCredential, describeRequestedIdentity } from '../../src/identity/credential.ts';
import type { Principal } from '../../src/identity/roles.ts';
import { createSqlPool, type SqlPool } from '../../src/sql/pool.ts';
import { sqlAuthentication } from '../../src/sql/start-sql.ts';
import { resolveScriptEnv, type Service } from './script-env.ts';

export type Settings = Record<string, string | undefined>;

/**
 * The settings a script runs with (configured services as they are, the others from a running
 * local stack as `who`), applied to this process before anything asks for a token: the identity
 * library reads IDENTITY_ENDPOINT from the environment at its first token.
 */
export async function scriptSettings(who: Principal, needs: readonly Service[]): Promise<Settings> {
  const { env, fromStack } = await resolveScriptEnv({ env: process.env, who, needs });
  if (fromStack) {
    Object.assign(process.env, env);
    console.error(
      `-- ${fromStack.services.join(', ')} from the local stack (pid ${fromStack.pid}), as the ${who} identity`,
    );
  }
  return env;
}

/** Runs a config part-parser; a bad or missing setting stops the script naming it, exit 78 (EX_CONFIG). */
export function settingOrExit<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error: unknown) {
    if (error instanceof Error && error.name === 'ConfigError') {
      console.error((error as ConfigError).message);
      console.error(
        '(Locally, `npm start` or `npm run stack` runs a stack that scripts use for what is not set.)',
      );
      process.exit(78);
    }
    throw error;
  }
}

/**
 * A small SQL pool from the service's own SQL settings (same validation as the worker), with the
 * credential it logs in with; none with SQL_AUTH=password, which asks no identity for anything.
 */
export function scriptSqlPool(
  env: Settings,
  max = 2,
): { pool: SqlPool; target: string; sql: Config['sql']; credential: TokenCredential | undefined } {
  const sql = settingOrExit(() => loadSqlConfig(env));
  const identity = settingOrExit(() => loadIdentityConfig(env));
  const requested = { kind: identity.credential, clientId: identity.clientId };
  const credential = sql.auth.kind === 'password' ? undefined : createCredential(requested);
  const authentication = sqlAuthentication(sql.auth, credential);
  const pool = createSqlPool({
    server: sql.server,
    port: sql.port,
    database: sql.database,
    authentication,
    encrypt: sql.encrypt,
    trustServerCertificate: sql.trustServerCertificate,
    max,
    tokenMaxAgeMs: sql.tokenMaxAgeMs,
  });
  const as =
    sql.auth.kind === 'password' ? `SQL login ${sql.auth.user}` : describeRequestedIdentity(requested);
  return { pool, target: `${sql.server}:${sql.port}/${sql.database} as ${as}`, sql, credential };
}

/** The handler list the worker reads (HANDLERS_MODULE, else the shipped one), checked; a bad one exits 78. */
export async function scriptHandlers(env: Settings): Promise<HandlerRegistry> {
  const config = settingOrExit(() => loadHandlersConfig(env));
  try {
    return createHandlerRegistry(await loadHandlers(config));
  } catch (error: unknown) {
    if (!(error instanceof Error && error.name === 'HandlerError')) throw error;
    console.error(error.message);
    process.exit(78);
  }
}
