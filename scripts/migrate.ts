// npm run migrate: applies the numbered migrations not yet applied (src/sql/migrations), as the
// operator identity (db_ddladmin). Running it again changes nothing.
import { pino } from 'pino';
import { migrate } from '../src/sql/migrate.ts';
import { scriptSettings, scriptSqlPool } from './lib/script-settings.ts';

const log = pino({ name: 'migrate' });
const { pool, target } = scriptSqlPool(await scriptSettings('operator', ['sql']));
log.info({ target }, 'migrating');
try {
  const { applied } = await migrate(pool, { log });
  log.info({ applied: applied.map((m) => `${m.version}_${m.name}`) }, 'done');
} catch (error: unknown) {
  log.error({ err: error }, 'migration failed');
  process.exitCode = 1;
} finally {
  await pool.close();
}
