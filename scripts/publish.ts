// npm run publish -- (--file events.ndjson | --count N [--type T[,T2]] [--invalid-share 0.05]) [--mode binary]
//   [--queue Q | --topic T]
// Publishes CloudEvents to Service Bus as the publisher identity: in Azure through the managed
// identity (or DefaultAzureCredential with AZURE_CREDENTIAL=developer), locally through `npm run stack`.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { ServiceBusClient } from '@azure/service-bus';
import { loadIdentityConfig, loadServiceBusConfig } from '../src/config.ts';
import { orderPlacedType } from '../src/handlers/orders/schema.ts';
import { exampleData } from '../src/handlers/orders/schema-examples.ts';
import { createCredential } from '../src/identity/credential.ts';
import type { CloudEvent } from '../src/pipeline/cloud-event.ts';
import type { ContentMode } from '../src/servicebus/envelope.ts';
import { type PublishItem, type PublishProgress, publishEvents } from '../src/servicebus/publisher.ts';
import { generatePublishItems } from '../src/servicebus/sample-messages.ts';
import { startTracing } from '../src/telemetry/tracing.ts';
import { scriptSettings, settingOrExit } from './lib/script-settings.ts';

const fail = (message: string): never => {
  console.error(`publish: ${message}`);
  process.exit(2);
};

const { values: args } = parseArgs({
  options: {
    file: { type: 'string' },
    count: { type: 'string' },
    type: { type: 'string', default: orderPlacedType },
    'invalid-share': { type: 'string', default: '0' },
    mode: { type: 'string', default: 'structured' },
    queue: { type: 'string' },
    topic: { type: 'string' },
  },
});

const mode = args.mode as ContentMode;
if (mode !== 'structured' && mode !== 'binary') fail(`--mode must be structured or binary, got ${args.mode}`);
const invalidShare = Number(args['invalid-share']);
if (!(invalidShare >= 0 && invalidShare <= 1)) fail('--invalid-share must be a number from 0 to 1');
if (Boolean(args.file) === Boolean(args.count)) fail('give either --file f.ndjson or --count N');

// Service Bus as configured, else the running local stack's, as the publisher (Data Sender).
const env = await scriptSettings('publisher', ['serviceBus']);
// --queue / --topic replace the configured entity; a sender needs no subscription.
const chosen = args.queue
  ? { SERVICEBUS_QUEUE: args.queue, SERVICEBUS_TOPIC: undefined, SERVICEBUS_SUBSCRIPTION: undefined }
  : args.topic
    ? { SERVICEBUS_QUEUE: undefined, SERVICEBUS_TOPIC: args.topic, SERVICEBUS_SUBSCRIPTION: 'unused' }
    : env.SERVICEBUS_TOPIC
      ? { SERVICEBUS_SUBSCRIPTION: 'unused' }
      : {};
const serviceBus = settingOrExit(() => loadServiceBusConfig({ ...env, ...chosen }));
const namespace = serviceBus.fullyQualifiedNamespace;
const entityName = 'queue' in serviceBus.entity ? serviceBus.entity.queue : serviceBus.entity.topic;
const endpoint = serviceBus.endpoint;
const { credential: kind, clientId } = settingOrExit(() => loadIdentityConfig(env));

async function* fromFile(path: string): AsyncGenerator<PublishItem> {
  let line = 0;
  for await (const text of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
    line++;
    if (text.trim() === '') continue;
    try {
      yield JSON.parse(text) as CloudEvent;
    } catch (error: unknown) {
      fail(`${path}:${line} is not JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

const total = args.count ? Number(args.count) : undefined;
if (total !== undefined && !(Number.isInteger(total) && total > 0))
  fail('--count must be a positive integer');
const types = (args.type ?? orderPlacedType).split(',');
for (const t of types)
  if (!exampleData.has(t)) fail(`no example data for type ${t}; known: ${[...exampleData.keys()]}`);

const items = args.file
  ? fromFile(args.file)
  : generatePublishItems({
      count: total ?? 0,
      types,
      dataFor: (t, n) => exampleData.get(t)?.(n),
      invalidShare,
      mode,
    });

const drawProgress = ({ sent, failed, batches }: PublishProgress): void => {
  if (!process.stderr.isTTY) return;
  const done = sent + failed;
  const width = 30;
  const filled = total ? Math.round((done / total) * width) : 0;
  const bar = total ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
  process.stderr.write(
    `\r${bar}${done}${total ? `/${total}` : ''} sent, ${batches} batches, ${failed} failed`,
  );
};

const credential = createCredential({ kind, clientId });
// With the worker's trace settings, each event's trace starts here and the worker continues it.
const tracing = startTracing({
  otlpEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined,
  otlpProtocol: env.OTEL_EXPORTER_OTLP_PROTOCOL === 'grpc' ? 'grpc' : 'http/json',
  applicationInsightsConnectionString: env.APPLICATIONINSIGHTS_CONNECTION_STRING || undefined,
  credential,
  serviceName: 'keyless-publish',
});
const client = new ServiceBusClient(
  namespace,
  credential,
  endpoint ? { customEndpointAddress: endpoint } : {},
);
const sender = client.createSender(entityName);
const abort = new AbortController();
process.once('SIGINT', () => abort.abort());
try {
  const summary = await publishEvents(sender, items, {
    mode,
    onProgress: drawProgress,
    signal: abort.signal,
  });
  if (process.stderr.isTTY) process.stderr.write('\n');
  for (const f of summary.failures) {
    console.error(`failed ${f.messageIds.length} (first ${f.messageIds[0]}): ${String(f.error)}`);
  }
  console.log(
    `sent ${summary.sent} events in ${summary.batches} ${summary.batches === 1 ? 'batch' : 'batches'}${summary.failed ? `, ${summary.failed} failed` : ''}`,
  );
  process.exitCode = summary.failed ? 1 : 0;
} catch (error: unknown) {
  console.error(`publish: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await sender.close().catch(() => undefined);
  await client.close().catch(() => undefined);
  await tracing.close().catch(() => undefined);
}
