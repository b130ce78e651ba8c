// npm run reprocess -- <dlq|retries|inbox> …: operators' batch reprocessing, as the operator identity
// (in Azure the configured managed identity or AZURE_CREDENTIAL=developer; locally the stack's operator).
// Every sub-command takes --dry-run, --max N and --rate N/s, and prints a summary line; see the README.
import { ServiceBusClient } from '@azure/service-bus';
import { loadIdentityConfig, loadServiceBusConfig, loadSqlConfig } from '../src/config.ts';
import { defaults } from '../src/defaults.ts';
import { createCredential, scopes } from '../src/identity/credential.ts';
import { describeIdentity } from '../src/identity/describe.ts';
import { parseReprocessArgs, reprocessUsage } from '../src/reprocess/args.ts';
import { reprocessDeadLetters } from '../src/reprocess/dlq.ts';
import { reapplyInbox } from '../src/reprocess/inbox.ts';
import { createProgressPrinter, exitCodeOf, formatSummary } from '../src/reprocess/report.ts';
import { reprocessRetries } from '../src/reprocess/retries.ts';
import type { ReprocessSummary } from '../src/reprocess/run.ts';
import { createRedisConnections, type RedisAuth } from '../src/retry/redis.ts';
import { entityPath } from '../src/servicebus/entity.ts';
import { scriptHandlers, scriptSettings, scriptSqlPool, settingOrExit } from './lib/script-settings.ts';

const fail = (message: string, code = 2): never => {
  console.error(`reprocess: ${message}`);
  process.exit(code);
};

let command: ReturnType<typeof parseReprocessArgs>;
try {
  command = parseReprocessArgs(process.argv.slice(2));
} catch (error: unknown) {
  fail(`${(error as Error).message}\n${reprocessUsage}`);
  throw error;
}

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
const credential = createCredential({ kind, clientId });

const abort = new AbortController();
process.on('SIGINT', () => {
  if (abort.signal.aborted) process.exit(130);
  console.error('\nstopping after the item in hand (Ctrl-C again to exit at once)');
  abort.abort();
});
const common = {
  dryRun: command.dryRun,
  max: command.max,
  ratePerSec: command.ratePerSec,
  signal: abort.signal,
  onProgress: createProgressPrinter(process.stderr),
  onPlan: (line: string) => console.log(line),
};

const serviceBusSettings = () => settingOrExit(() => loadServiceBusConfig(env));
// Every setting the sub-command needs is checked before the first token: a missing one exits 78
// naming it, instead of sending the identity library looking for an endpoint.
if (command.what === 'inbox') settingOrExit(() => loadSqlConfig(env));
else serviceBusSettings();
const serviceBus = () => {
  const { fullyQualifiedNamespace, endpoint } = serviceBusSettings();
  return new ServiceBusClient(
    fullyQualifiedNamespace,
    credential,
    endpoint ? { customEndpointAddress: endpoint } : {},
  );
};

let summary: ReprocessSummary | undefined;
try {
  const identity = describeIdentity((await credential.getToken(scopes.serviceBus))?.token ?? '');
  if (command.what === 'dlq') {
    const client = serviceBus();
    const { entity, fullyQualifiedNamespace: namespace } = serviceBusSettings();
    try {
      summary = await reprocessDeadLetters({
        ...common,
        client,
        queue: entityPath(entity),
        namespace,
        identity,
        filter: command.filter,
        action: command.action,
        duplicateWindowMs: command.duplicateWindowMs,
      });
    } finally {
      await client.close();
    }
  } else if (command.what === 'inbox') {
    const { pool, target, sql } = scriptSqlPool(env);
    console.error(`-- ${target}`);
    try {
      const result = await reapplyInbox({
        ...common,
        db: pool,
        handlers: await scriptHandlers(env),
        filter: command.filter,
        database: sql.database,
        identity,
      });
      if (result.interrupted && result.lastMessageId)
        console.error(`resume with: npm run reprocess -- inbox … --after ${result.lastMessageId}`);
      summary = result;
    } finally {
      await pool.close();
    }
  } else {
    const client = serviceBus();
    const { entity, fullyQualifiedNamespace: namespace } = serviceBusSettings();
    // The retry tier's own connection: with REDIS_AUTH=entra it logs in as the operator's object id.
    const auth: RedisAuth =
      env.REDIS_AUTH === 'entra'
        ? { kind: 'entra', credential, objectId: identity.objectId ?? '' }
        : { kind: 'none' };
    const redisUrl = env.REDIS_URL ?? defaults.redisUrl;
    const connections = createRedisConnections({ url: redisUrl, auth, logger: console });
    await connections.start();
    try {
      summary = await reprocessRetries({
        ...common,
        client,
        queue: entityPath(entity),
        namespace,
        identity,
        redisUrl,
        redis: connections.commands(),
        action: command.action,
        messageId: command.messageId,
      });
    } finally {
      await connections.close();
      await client.close();
    }
  }
  for (const f of summary.failures) console.error(`failed ${f.id}: ${f.error}`);
  console.log(formatSummary(command.what, summary));
  process.exitCode = exitCodeOf(summary);
} catch (error: unknown) {
  console.error(`reprocess ${command.what}: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
