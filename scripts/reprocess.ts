// npm run reprocess -- <dlq|retries|inbox> …: operators' batch reprocessing, as the operator identity
// (in Azure the configured managed identity or AZURE_CREDENTIAL=developer; locally the stack's operator).
// Every sub-command takes --dry-run, --max N and --rate N/s, and prints a summary line; see the README.
import { ServiceBusClient } from '@azure/service-bus';
import { orderHandlers } from '../src/handlers/orders/handlers.ts';
import { createCredential, scopes } from '../src/identity/credential.ts';
import { describeIdentity } from '../src/identity/describe.ts';
import { parseReprocessArgs, reprocessUsage } from '../src/reprocess/args.ts';
import { reprocessDeadLetters } from '../src/reprocess/dlq.ts';
import { reapplyInbox } from '../src/reprocess/inbox.ts';
import { createProgressPrinter, exitCodeOf, formatSummary } from '../src/reprocess/report.ts';
import { reprocessRetries } from '../src/reprocess/retries.ts';
import type { ReprocessSummary } from '../src/reprocess/run.ts';
import { findLocalStack, hasAzureSettings, useLocalStack } from './lib/local-stack.ts';
import { sqlPoolFromEnv } from './lib/sql-pool-from-env.ts';

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

const env = process.env;
const stack = hasAzureSettings(env) ? undefined : findLocalStack();
if (!stack && !hasAzureSettings(env))
  fail(
    'no Azure settings in the environment and no local stack: start one with `npm start` or `npm run stack`',
    1,
  );
// Before the first token: the identity source is fixed per process from then on.
if (stack) useLocalStack(stack, 'operator');
const credential = createCredential({
  kind: env.AZURE_CREDENTIAL === 'developer' ? 'developer' : 'managed-identity',
  clientId: env.AZURE_CLIENT_ID,
});
const namespace = stack?.serviceBus.fullyQualifiedNamespace ?? env.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE ?? '';
const endpoint = stack?.serviceBus.endpoint ?? env.SERVICEBUS_ENDPOINT;
const queue = stack?.serviceBus.queue ?? env.SERVICEBUS_QUEUE ?? '';
const redisUrl = stack?.redisUrl ?? env.REDIS_URL ?? 'redis://127.0.0.1:6379';

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

const serviceBus = () => {
  if (!namespace || !queue) fail('SERVICEBUS_FULLY_QUALIFIED_NAMESPACE and SERVICEBUS_QUEUE are required', 1);
  return new ServiceBusClient(namespace, credential, endpoint ? { customEndpointAddress: endpoint } : {});
};

let summary: ReprocessSummary | undefined;
try {
  const identity = describeIdentity((await credential.getToken(scopes.serviceBus))?.token ?? '');
  if (command.what === 'dlq') {
    const client = serviceBus();
    try {
      summary = await reprocessDeadLetters({
        ...common,
        client,
        queue,
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
    const { pool, target } = sqlPoolFromEnv('operator');
    console.error(`-- ${target}`);
    try {
      const result = await reapplyInbox({
        ...common,
        db: pool,
        handlers: orderHandlers,
        filter: command.filter,
        database: stack?.sql.database ?? env.SQL_DATABASE ?? '',
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
    try {
      summary = await reprocessRetries({
        ...common,
        client,
        queue,
        namespace,
        identity,
        redisUrl,
        action: command.action,
        messageId: command.messageId,
      });
    } finally {
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
