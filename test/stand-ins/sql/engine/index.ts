import { PGlite } from '@electric-sql/pglite';
import { type SqlEngine, SqlServerError, type SqlSession } from '../engine-api.ts';
import { createCatalog, type FixedRole } from './catalog.ts';
import { createMutex } from './results.ts';
import { type EngineCore, openEngineSession } from './session.ts';

export type { FixedRole } from './catalog.ts';

export type PgliteEngineOptions = {
  /** The database sessions open. @defaultValue 'keyless' */
  database?: string;
  /** SQL-authentication logins for local runs, each with a user of the same name in the database. @defaultValue [] */
  logins?: readonly { login: string; password: string; roles?: readonly FixedRole[] }[];
  /** Users that exist from the start, as if created FROM EXTERNAL PROVIDER and added to `roles`. @defaultValue [] */
  users?: readonly { name: string; roles?: readonly FixedRole[] }[];
  /** Whether `CREATE USER [name] FROM EXTERNAL PROVIDER` finds `name` in the directory. @defaultValue every name */
  resolveExternalPrincipal?: (name: string) => boolean;
  /** How long a statement waits for another session's transaction before error 1222. @defaultValue 30000 */
  lockTimeoutMs?: number;
};

/**
 * A SQL Server-flavoured engine on PGlite (in-memory PostgreSQL): T-SQL is translated per
 * statement, and users, roles and errors follow SQL Server. `dbo` is the database owner: open a
 * session as `dbo` to run migrations or `CREATE USER … FROM EXTERNAL PROVIDER`.
 */
export const createPgliteEngine = async (options: PgliteEngineOptions = {}): Promise<SqlEngine> => {
  const database = options.database ?? 'keyless';
  const lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
  const pg = await PGlite.create({ parsers: { 20: (v: string) => BigInt(v) } });
  await pg.exec(`SET TimeZone = 'UTC'; CREATE SCHEMA dbo; SET search_path = dbo;`);
  const catalog = createCatalog();
  catalog.principals.set('dbo', { name: 'dbo', roles: new Set(['db_owner']), external: false });
  for (const u of options.users ?? []) {
    catalog.principals.set(u.name.toLowerCase(), {
      name: u.name,
      roles: new Set(u.roles ?? []),
      external: true,
    });
  }
  for (const l of options.logins ?? []) {
    catalog.principals.set(l.login.toLowerCase(), {
      name: l.login,
      roles: new Set(l.roles ?? []),
      external: false,
    });
  }
  const mutex = createMutex();
  const sessions = new Set<SqlSession>();
  let closed = false;

  const core: EngineCore = {
    pg,
    database,
    catalog,
    resolveExternalPrincipal: options.resolveExternalPrincipal ?? (() => true),
    async acquire() {
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      const turn = mutex.acquire();
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          timedOut = true;
          // The turn still comes; hand it straight on.
          void turn.then((release) => release());
          reject(
            new SqlServerError({
              number: 1222,
              state: 45,
              severity: 16,
              message: 'Lock request time out period exceeded.',
            }),
          );
        }, lockTimeoutMs);
      });
      try {
        const release = await Promise.race([turn, timeout]);
        if (timedOut) throw new Error('unreachable');
        return release;
      } finally {
        clearTimeout(timer);
      }
    },
  };

  const isDb = (name: string): boolean => name.toLowerCase() === database.toLowerCase();

  return {
    hasDatabase: isDb,
    hasUser: (db, user) => isDb(db) && catalog.principals.has(user.toLowerCase()),
    checkPassword: (login, password) =>
      (options.logins ?? []).some(
        (l) => l.login.toLowerCase() === login.toLowerCase() && l.password === password,
      ),
    async openSession(db, user) {
      if (closed)
        throw new SqlServerError({ number: 50000, state: 1, severity: 16, message: 'Engine is closed.' });
      if (!isDb(db)) {
        throw new SqlServerError({
          number: 4060,
          state: 1,
          severity: 11,
          message: `Cannot open database "${db}" requested by the login. The login failed.`,
        });
      }
      if (!catalog.principals.has(user.toLowerCase())) {
        throw new SqlServerError({
          number: 18456,
          state: 1,
          severity: 14,
          message: `Login failed for user '${user}'.`,
        });
      }
      const session = openEngineSession(core, user);
      sessions.add(session);
      const close = session.close.bind(session);
      return Object.assign(session, {
        close: async () => {
          sessions.delete(session);
          await close();
        },
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const s of [...sessions]) await s.close().catch(() => {});
      await pg.close();
    },
  };
};
