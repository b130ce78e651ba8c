// npm run migrate: applies the numbered migrations not yet applied (src/sql/migrations), as the
// operator identity (db_ddladmin). Running it again changes nothing.
import { createLogger } from '../src/logger.ts';
import { migrate } from '../src/sql/migrate.ts';
import { sqlPoolFromEnv } from './lib/sql-pool-from-env.ts';

const log = createLogger(
  'info',
  { component: 'migrate' },
  {
    pretty: process.stdout.isTTY === true,
    color: process.stdout.isTTY === true,
  },
);
const { pool, target } = sqlPoolFromEnv('operator');
log.info({ target }, 'migrating');
try {
  const { applied } = await migrate(pool, { logger: log });
  log.info({ applied: applied.map((m) => `${m.version}_${m.name}`) }, 'done');
} catch (error: unknown) {
  log.error({ err: error }, 'migration failed');
  process.exitCode = 1;
} finally {
  await pool.close();
}
