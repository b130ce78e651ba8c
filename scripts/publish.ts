// npm run publish -- (--file F | --count N) …: publishes CloudEvents to Service Bus as the publisher
// identity: in Azure through the managed identity (or DefaultAzureCredential with
// AZURE_CREDENTIAL=developer), locally through `npm run stack`. `--help` lists the flags.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { ServiceBusClient } from '@azure/service-bus';
import type { CloudEvent } from '../src/cloudevents/cloud-event.ts';
import type { PublishItem } from '../src/cloudevents/envelope.ts';
import { generatePublishItems } from '../src/cloudevents/sample-events.ts';
import { loadIdentityConfig, loadServiceBusConfig } from '../src/config.ts';
import { createCredential } from '../src/identity/credential.ts';
import { type PublishProgress, publishEvents } from '../src/servicebus/publisher.ts';
import { withPublishSpan } from '../src/telemetry/trace-context.ts';
import { startTracing } from '../src/telemetry/tracing.ts';
import { defineCommand, runCommand, usageError } from './lib/cli.ts';
import { fraction, jsonFlag, oneOf, positiveInteger } from './lib/cli-values.ts';
import { scriptHandlers, scriptSettings, settingOrExit } from './lib/script-settings.ts';

// The list the worker reads (HANDLERS_MODULE, else the shipped one): its types and example data.
const handlers = await scriptHandlers(process.env);
const known = handlers.handlers.map((h) => h.type);

const args = runCommand(
  defineCommand({
    name: 'publish',
    usage: 'npm run publish -- (--file F | --count N [--type T] [--invalid-share S]) [options]',
    about:
      'Publishes CloudEvents to Service Bus as the publisher identity (Data Sender), in as few batches\n' +
      'as fit, and prints a summary; exit 1 when some failed.',
    flags: {
      file: { type: 'string', value: 'F', help: 'publishes the events of an NDJSON file, one per line' },
      count: { type: 'string', value: 'N', help: 'publishes N generated events of example data' },
      type: { type: 'string', value: 'T[,T2]', help: `their types (default ${known[0]}, the list's first)` },
      'invalid-share': { type: 'string', value: 'S', help: 'share of them made invalid, 0 to 1 (default 0)' },
      mode: {
        type: 'string',
        value: 'structured|binary',
        help: 'CloudEvents content mode (default structured)',
      },
      queue: { type: 'string', value: 'Q', help: 'sends to this queue instead of the configured one' },
      topic: { type: 'string', value: 'T', help: 'sends to this topic instead' },
      json: jsonFlag,
    },
    parse(v) {
      if (Boolean(v.file) === Boolean(v.count)) usageError('give either --file F or --count N');
      if (v.queue && v.topic) usageError('give --queue or --topic, not both');
      const types = v.type ? v.type.split(',') : known.slice(0, 1);
      for (const t of types)
        if (!handlers.has(t)) usageError(`--type ${t} has no handler; known: ${known.join(', ')}`);
      return {
        file: v.file,
        count: v.count === undefined ? undefined : positiveInteger('count', v.count),
        types,
        invalidShare: fraction('invalid-share', v['invalid-share'] ?? '0'),
        mode: oneOf('mode', v.mode ?? 'structured', ['structured', 'binary']),
        queue: v.queue,
        topic: v.topic,
        json: v.json === true,
      };
    },
  }),
);

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
      console.error(
        `publish: ${path}:${line} is not JSON: ${error instanceof Error ? error.message : String(error)}`,
      );
      process.exit(2);
    }
  }
}

const total = args.count;
const { mode } = args;
const items = args.file
  ? fromFile(args.file)
  : generatePublishItems({
      count: total ?? 0,
      types: args.types,
      dataFor: (t, n) => handlers.example(t, n),
      schemas: handlers.schemas,
      invalidShare: args.invalidShare,
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
    // With the worker's trace settings, each event's trace starts here and the worker continues it.
    beforeSend: withPublishSpan,
  });
  if (process.stderr.isTTY) process.stderr.write('\n');
  for (const f of summary.failures) {
    console.error(`failed ${f.messageIds.length} (first ${f.messageIds[0]}): ${String(f.error)}`);
  }
  const { sent, failed, batches } = summary;
  if (args.json) {
    const failures = summary.failures.map((f) => ({ messageIds: f.messageIds, error: String(f.error) }));
    console.log(JSON.stringify({ sent, failed, batches, failures }, null, 2));
  } else
    console.log(
      `sent ${sent} events in ${batches} ${batches === 1 ? 'batch' : 'batches'}${failed ? `, ${failed} failed` : ''}`,
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
