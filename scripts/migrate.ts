// npm run migrate: applies the numbered migrations not yet applied (src/sql/migrations), as the
// operator identity (db_ddladmin). Running it again changes nothing.
import { createLogger } from '../src/logger.ts';
import { migrate } from '../src/sql/migrate.ts';
import { defineCommand, runCommand } from './lib/cli.ts';
import { scriptSettings, scriptSqlPool } from './lib/script-settings.ts';

runCommand(
  defineCommand({
    name: 'migrate',
    usage: 'npm run migrate',
    about:
      'Applies the numbered migrations in src/sql/migrations not yet applied, as the operator identity\n' +
      '(db_ddladmin), and records each. Running it again changes nothing.',
    flags: {},
    parse: () => undefined,
  }),
);

const log = createLogger(
  'info',
  { component: 'migrate' },
  {
    pretty: process.stdout.isTTY === true,
    color: process.stdout.isTTY === true,
  },
);
const { pool, target } = scriptSqlPool(await scriptSettings('operator', ['sql']));
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
