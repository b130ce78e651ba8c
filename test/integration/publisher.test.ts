import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseCloudEvent } from '../../src/cloudevents/envelope.ts';
import { sampleEvent } from '../../src/cloudevents/sample-events.ts';
import { publishEvents } from '../../src/servicebus/publisher.ts';
import { parcelRegisteredType, parcels, parcelsModule } from '../fixtures/parcels/events.ts';
import { type ConsumerStandIns, schemas, startConsumerStandIns } from './consumer-stand-ins.ts';

let env: ConsumerStandIns;

beforeAll(async () => {
  env = await startConsumerStandIns();
});
afterEach(async () => {
  await env.cleanup();
});
afterAll(async () => {
  await env?.close();
});

const placed = (n: number) => sampleEvent(parcelRegisteredType, parcels.example(parcelRegisteredType, n));

describe('publishEvents against the Service Bus stand-in', () => {
  it('sends every event once, in batches that fit the size limit the broker announced', async () => {
    const q = env.queue();
    const sender = env.client(env.publisher).createSender(q);
    const events = Array.from({ length: 3_000 }, (_, n) => ({
      ...placed(n),
      subject: 'x'.repeat(1_000),
    }));
    const summary = await publishEvents(sender, events);
    expect(summary).toMatchObject({ sent: 3_000, failed: 0 });
    expect(summary.batches).toBeGreaterThan(1);
    const ids = env.bus.messages(q).map((m) => m.messageId);
    expect(new Set(ids)).toEqual(new Set(events.map((e) => e.id)));
    expect(ids).toHaveLength(3_000);
  });

  it.each(['structured', 'binary'] as const)(
    'sends a %s event the receiving SDK hands back intact, with or without its own JSON parsing',
    async (mode) => {
      const q = env.queue();
      const event = {
        ...placed(1),
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      };
      await publishEvents(env.client(env.publisher).createSender(q), [event, event], { mode });
      const worker = env.client(env.worker);
      for (const skipParsingBodyAsJson of [true, false]) {
        const [message] = await worker
          .createReceiver(q, { receiveMode: 'peekLock', skipParsingBodyAsJson })
          .receiveMessages(1, { maxWaitTimeInMs: 5_000 });
        expect(message?.messageId).toBe(event.id);
        expect(parseCloudEvent(message ?? expect.fail('nothing received'), schemas)).toMatchObject({
          ok: true,
          mode,
          event: { id: event.id, type: event.type, traceparent: event.traceparent, data: event.data },
        });
      }
    },
  );

  it('stops with an error naming the cause and what was sent when the sender is refused', async () => {
    const q = env.queue();
    const noRole = env.identity.addIdentity(`no-role-${q}`);
    await expect(publishEvents(env.client(noRole).createSender(q), [placed(1)])).rejects.toMatchObject({
      message: expect.stringMatching(/UnauthorizedAccess.*sent 0 before it stopped/),
    });
    expect(env.bus.counts(q).active).toBe(0);
  });
});

describe('npm run publish', () => {
  it('publishes generated events with a share of invalid ones and prints a summary', async () => {
    const q = env.queue();
    const dir = await mkdtemp(join(tmpdir(), 'publish-'));
    try {
      const caPath = join(dir, 'ca.pem');
      await writeFile(caPath, env.caCertPem);
      const script = resolve(import.meta.dirname, '../../scripts/publish.ts');
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [script, '--count', '200', '--invalid-share', '0.05', '--mode', 'binary'],
        {
          env: {
            PATH: process.env.PATH,
            IDENTITY_ENDPOINT: env.identity.endpoint,
            IDENTITY_HEADER: env.identity.header,
            AZURE_CLIENT_ID: env.publisher.clientId,
            SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: env.bus.fullyQualifiedNamespace,
            SERVICEBUS_QUEUE: q,
            NODE_EXTRA_CA_CERTS: caPath,
            // The script publishes the first type of the list the worker reads.
            HANDLERS_MODULE: parcelsModule,
          },
          timeout: 60_000,
        },
      );
      expect(stdout.trim()).toBe('sent 200 events in 1 batch');
      const messages = env.bus.messages(q);
      expect(messages).toHaveLength(200);
      const valid = messages.filter(
        (m) =>
          m.applicationProperties['cloudEvents:type'] === parcelRegisteredType &&
          m.applicationProperties['cloudEvents:source'],
      );
      expect(valid.length).toBeGreaterThanOrEqual(190);
      expect(valid.length).toBeLessThan(200);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
