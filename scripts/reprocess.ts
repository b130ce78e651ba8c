// npm run reprocess -- <dlq|retries|inbox> …: operators' batch reprocessing, as the operator identity
// (in Azure the configured managed identity or AZURE_CREDENTIAL=developer; locally the stack's operator).
// `--help` shows every sub-command's flags; the README's Reprocessing section says what each does.
import { ServiceBusClient } from '@azure/service-bus';
import { loadIdentityConfig, loadServiceBusConfig, loadSqlConfig } from '../src/config.ts';
import { defaults } from '../src/defaults.ts';
import { createCredential, scopes } from '../src/identity/credential.ts';
import { describeIdentity } from '../src/identity/describe.ts';
import { reprocessDeadLetters } from '../src/reprocess/dlq.ts';
import { reapplyInbox } from '../src/reprocess/inbox.ts';
import { createProgressPrinter, exitCodeOf, formatSummary } from '../src/reprocess/report.ts';
import { type ListedRetry, reprocessRetries } from '../src/reprocess/retries.ts';
import type { ReprocessSummary } from '../src/reprocess/run.ts';
import { createRedisConnections, type RedisAuth } from '../src/retry/redis.ts';
import { entityPath } from '../src/servicebus/entity.ts';
import { runGroup } from './lib/cli.ts';
import { askFirst } from './lib/confirm.ts';
import { reprocessCommands } from './lib/reprocess-command.ts';
import { scriptHandlers, scriptSettings, scriptSqlPool, settingOrExit } from './lib/script-settings.ts';

const command = runGroup(reprocessCommands);

// Each service as configured, or from a running local stack as the operator; before the first
// token, because the identity source is fixed per process from then on.
const needs =
  command.what === 'inbox'
    ? (['sql'] as const)
    : command.what === 'dlq'
      ? (['serviceBus'] as const)
      : (['serviceBus', 'redis'] as const);
const env = await scriptSettings('operator', needs);
const { credential: kind, clientId } = settingOrExit(() => loadIdentityConfig(env));
// Every setting the sub-command needs is checked before the first token: a missing one exits 78
// naming it, instead of sending the identity library looking for an endpoint.
const sqlSettings = command.what === 'inbox' ? settingOrExit(() => loadSqlConfig(env)) : undefined;
const serviceBusSettings = sqlSettings ? undefined : settingOrExit(() => loadServiceBusConfig(env));
const target = serviceBusSettings
  ? `${entityPath(serviceBusSettings.entity)} on ${serviceBusSettings.fullyQualifiedNamespace}`
  : `database ${sqlSettings?.database} on ${sqlSettings?.server}`;
if (command.bulk) await askFirst(`reprocess ${command.what}`, `${command.bulk} (${target})`, command.yes);

const abort = new AbortController();
process.on('SIGINT', () => {
  if (abort.signal.aborted) process.exit(130);
  console.error('\nstopping after the item in hand (Ctrl-C again to exit at once)');
  abort.abort();
});
const plan: string[] = [];
const jobs: ListedRetry[] = [];
const common = {
  dryRun: command.dryRun,
  max: command.max,
  ratePerSec: command.ratePerSec,
  signal: abort.signal,
  onProgress: createProgressPrinter(process.stderr),
  onPlan: (line: string) => (command.json ? plan.push(line) : console.log(line)),
};

/** The Service Bus sub-commands: a client, and who the operator is (for errors that name it). */
async function serviceBusAccess() {
  const {
    fullyQualifiedNamespace: namespace,
    endpoint,
    entity,
  } = serviceBusSettings as NonNullable<typeof serviceBusSettings>;
  const credential = createCredential({ kind, clientId });
  const identity = describeIdentity((await credential.getToken(scopes.serviceBus))?.token ?? '');
  const client = new ServiceBusClient(
    namespace,
    credential,
    endpoint ? { customEndpointAddress: endpoint } : {},
  );
  return { credential, identity, client, namespace, queue: entityPath(entity) };
}

let summary: ReprocessSummary & { lastMessageId?: string | undefined };
try {
  if (command.what === 'inbox') {
    // Only the database is touched: with SQL_AUTH=password no identity is asked for anything.
    const { pool, target: as, sql, credential } = scriptSqlPool(env);
    console.error(`-- ${as}`);
    try {
      const token = credential ? await credential.getToken(scopes.sql) : undefined;
      summary = await reapplyInbox({
        ...common,
        db: pool,
        handlers: await scriptHandlers(env),
        filter: command.filter,
        database: sql.database,
        identity: token ? describeIdentity(token.token) : undefined,
      });
      if (summary.interrupted && summary.lastMessageId)
        console.error(`resume with: npm run reprocess -- inbox … --after ${summary.lastMessageId}`);
    } finally {
      await pool.close();
    }
  } else if (command.what === 'dlq') {
    const { client, ...access } = await serviceBusAccess();
    try {
      summary = await reprocessDeadLetters({
        ...common,
        ...access,
        client,
        filter: command.filter,
        action: command.action,
        duplicateWindowMs: command.duplicateWindowMs,
      });
    } finally {
      await client.close();
    }
  } else {
    const { client, credential, ...access } = await serviceBusAccess();
    // The retry tier's own connection: with REDIS_AUTH=entra it logs in as the operator's object id.
    const auth: RedisAuth =
      env.REDIS_AUTH === 'entra'
        ? { kind: 'entra', credential, objectId: access.identity.objectId ?? '' }
        : { kind: 'none' };
    const redisUrl = env.REDIS_URL ?? defaults.redisUrl;
    const connections = createRedisConnections({ url: redisUrl, auth, logger: console });
    await connections.start();
    try {
      summary = await reprocessRetries({
        ...common,
        ...access,
        client,
        redisUrl,
        redis: connections.commands(),
        action: command.action,
        messageId: command.messageId,
        onList: (line, job) => (command.json ? jobs.push(job) : console.log(line)),
      });
    } finally {
      await connections.close();
      await client.close();
    }
  }
  for (const f of summary.failures) console.error(`failed ${f.id}: ${f.error}`);
  if (command.json) {
    const listing = command.what === 'retries' && command.action === 'list' ? { jobs } : { plan };
    console.log(JSON.stringify({ command: command.what, ...summary, ...listing }, null, 2));
  } else console.log(formatSummary(command.what, summary));
  process.exitCode = exitCodeOf(summary);
} catch (error: unknown) {
  console.error(`reprocess ${command.what}: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
