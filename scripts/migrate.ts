// npm run migrate: applies the numbered migrations not yet applied (the inbox's in src/inbox/migrations, then each handler domain's), as the
// operator identity (db_ddladmin). Running it again changes nothing.
import { createLogger } from '../src/logger.ts';
import { migrate } from '../src/sql/migrate.ts';
import { defineCommand, runCommand } from './lib/cli.ts';
import { scriptHandlers, scriptSettings, scriptSqlPool } from './lib/script-settings.ts';

runCommand(
  defineCommand({
    name: 'migrate',
    usage: 'npm run migrate',
    about:
      'Applies the numbered migrations not yet applied, the inbox ones first, then those of each handler\n' +
      'domain, as the operator identity (db_ddladmin), and records each. Running it again changes nothing.',
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
const env = await scriptSettings('operator', ['sql']);
const { migrationDirs: dirs } = await scriptHandlers(env);
const { pool, target } = scriptSqlPool(env);
log.info({ target }, 'migrating');
try {
  const { applied } = await migrate(pool, { dirs, logger: log });
  log.info({ applied: applied.map((m) => `${m.version}_${m.name}`) }, 'done');
} catch (error: unknown) {
  log.error({ err: error }, 'migration failed');
  process.exitCode = 1;
} finally {
  await pool.close();
}
