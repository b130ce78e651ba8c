import { migrate } from '../../src/sql/migrate.ts';
import { createSqlPool, type SqlPool } from '../../src/sql/pool.ts';
import { testMigrationDirs } from '../fixtures/migrations.ts';
import { createLocalCa, type LocalCa } from '../stand-ins/ca.ts';
import type { Authority } from '../stand-ins/identity.ts';
import { createPgliteEngine } from '../stand-ins/sql/engine/index.ts';
import { startSqlStandIn } from '../stand-ins/sql/index.ts';

export type SqlContainer = {
  /** Its own CA, trusted by nobody until a test says so. */
  ca: LocalCa;
  /** The settings that reach it with SQL authentication, as a developer sets them. */
  settings: Record<string, string>;
  /** A pool as `sa`, trusting its CA; the caller closes it. */
  connect(): SqlPool;
  close(): Promise<void>;
};

/**
 * A SQL Server as a container runs it locally: SQL authentication (`sa` and a password), a
 * certificate signed by a CA of its own, the migrations applied. `authority` checks tokens, should
 * a token login come.
 */
export async function startSqlContainer(authority: Authority): Promise<SqlContainer> {
  const login = { login: 'sa', password: 'Local-Only-Passw0rd' };
  const ca = createLocalCa('SQL Server container self-signed');
  const engine = await createPgliteEngine({
    database: 'keyless',
    logins: [{ ...login, roles: ['db_owner'] }],
  });
  const server = await startSqlStandIn({ authority, ca, engine });
  const connect = () =>
    createSqlPool({
      server: server.server,
      port: server.port,
      database: 'keyless',
      authentication: { type: 'default', options: { userName: login.login, password: login.password } },
      ca: ca.certPem,
      max: 1,
    });
  const admin = connect();
  await migrate(admin, { dirs: testMigrationDirs }).finally(() => admin.close());
  return {
    ca,
    settings: {
      SQL_SERVER: server.server,
      SQL_PORT: String(server.port),
      SQL_DATABASE: 'keyless',
      SQL_AUTH: 'password',
      SQL_USER: login.login,
      SQL_PASSWORD: login.password,
    },
    connect,
    async close() {
      await server.close();
      await engine.close();
    },
  };
}
