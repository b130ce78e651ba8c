import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleEvent } from '../../src/cloudevents/sample-events.ts';
import { loadConfig } from '../../src/config.ts';
import { publishEvents } from '../../src/servicebus/publisher.ts';
import { withPublishSpan } from '../../src/telemetry/trace-context.ts';
import { startWorker, type Worker } from '../../src/worker.ts';
import { parcelRegisteredType, parcels } from '../fixtures/parcels/events.ts';
import { KeptSpanExporter } from '../helpers/kept-span-exporter.ts';
import {
  breakerOff,
  createTestQueue,
  fastRetries,
  grantPublisherOnNamespace,
  testLogger,
} from '../helpers/retry-fixture.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';
import { type RedisServer, startRedisServer } from '../stand-ins/redis-server.ts';

// The worker in this process with an in-memory exporter: a message whose first write and both
// immediate retries meet a transient SQL error, then the same again in its first delayed attempt;
// the second delayed attempt commits.
let system: SystemStack;
let redis: RedisServer;
let worker: Worker;
let queue: string;
const exporter = new KeptSpanExporter();
const event = sampleEvent(parcelRegisteredType, parcels.example(parcelRegisteredType, 3));

beforeAll(async () => {
  system = await startSystemStack({ queue: 'orders-retry-traces' });
  grantPublisherOnNamespace(system);
  redis = await startRedisServer();
  queue = createTestQueue(system);
  const config = loadConfig({
    ...system.stack.env('worker'),
    ...fastRetries,
    SERVICEBUS_QUEUE: queue,
    REDIS_URL: redis.url,
    KEY_VAULT_SECRETS: '',
    HTTP_PORT: '0',
    // Six failures in a row would open the breaker, whose hold would spare the second attempt:
    // this test is about the traces of delayed attempts.
    ...breakerOff,
  });
  worker = await startWorker(config, {
    handlers: parcels.handlers,
    logger: testLogger,
    spanExporters: [exporter],
  });
  // After the start, whose rights check reads dbo.Inbox too.
  system.stack.sql.faults.failStatements(/dbo\.Inbox/, 40613, 6);
  const client = system.publisher();
  expect(
    await publishEvents(client.createSender(queue), [event], { beforeSend: withPublishSpan }),
  ).toMatchObject({ sent: 1, failed: 0 });
  await client.close();
  const deadline = Date.now() + 30_000;
  while (system.stack.serviceBus.completedMessageIds(queue).length < 1 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  await worker.close();
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await redis?.close();
  await system?.close();
});

describe('traces of a retried message', () => {
  it('put each delayed attempt in the publisher’s trace, its write and its settlement under it', () => {
    expect(system.stack.serviceBus.completedMessageIds(queue)).toEqual([event.id]);
    const create = exporter
      .getFinishedSpans()
      .find((s) => s.name === 'create' && s.attributes['messaging.message.id'] === event.id);
    const traceId = create?.spanContext().traceId ?? 'none';
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const children = (parent: ReadableSpan) =>
      spans
        .filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId)
        .map((s) => `${s.name}: ${s.attributes['keyless.outcome'] ?? ''}`)
        .sort();

    const processSpan = spans.find((s) => s.name === `process ${queue}`);
    expect(processSpan?.attributes['keyless.outcome']).toBe('defer');
    // The first write and both immediate retries, then the defer.
    expect(children(processSpan as ReadableSpan)).toEqual([
      `defer ${queue}: `,
      'sql write: abandon',
      'sql write: abandon',
      'sql write: abandon',
    ]);

    const retries = spans
      .filter((s) => s.name === `retry ${queue}`)
      .sort(
        (a, b) =>
          Number(a.attributes['keyless.retry.attempt']) - Number(b.attributes['keyless.retry.attempt']),
      );
    expect(retries.map((s) => s.attributes['keyless.outcome'])).toEqual(['defer', 'complete']);
    for (const retry of retries) {
      // The message's own span ended with its defer: an attempt hangs under the publisher's span.
      expect(retry.parentSpanContext?.spanId).toBe(create?.spanContext().spanId);
      expect(retry.attributes['messaging.message.id']).toBe(event.id);
    }
    const [first, second] = retries as [ReadableSpan, ReadableSpan];
    expect(Number(second.attributes['keyless.retry.attempt'])).toBe(
      Number(first.attributes['keyless.retry.attempt']) + 1,
    );
    const attemptSpans = ['sql write: abandon', 'sql write: abandon', 'sql write: abandon'];
    expect(children(first)).toEqual([`defer ${queue}: `, ...attemptSpans]);
    expect(children(second)).toEqual([`complete ${queue}: `, 'sql write: complete']);
  });
});
