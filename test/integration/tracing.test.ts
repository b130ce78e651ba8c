import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toServiceBusMessage } from '../../src/cloudevents/envelope.ts';
import { sampleEvent } from '../../src/cloudevents/sample-events.ts';
import { loadConfig } from '../../src/config.ts';
import { publishEvents } from '../../src/servicebus/publisher.ts';
import { withPublishSpan } from '../../src/telemetry/trace-context.ts';
import { startWorker, type Worker } from '../../src/worker.ts';
import { parcelRegisteredType, parcels } from '../fixtures/parcels/events.ts';
import { KeptSpanExporter } from '../helpers/kept-span-exporter.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';
import { capturingLogger } from '../unit/consumer-fakes.ts';

// The worker in this process, so an in-memory exporter sees the publisher's spans and the worker's.
let system: SystemStack;
let worker: Worker;
const exporter = new KeptSpanExporter();
const { logger, lines } = capturingLogger();
const queue = 'orders-traces';
const traced = sampleEvent(parcelRegisteredType, parcels.example(parcelRegisteredType, 1));
const malformed = sampleEvent(parcelRegisteredType, parcels.example(parcelRegisteredType, 2));

const spansOf = (traceId: string): ReadableSpan[] =>
  exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
const one = (spans: ReadableSpan[], name: string): ReadableSpan => {
  const found = spans.filter((s) => s.name === name);
  expect(
    found.map((s) => s.name),
    name,
  ).toEqual([name]);
  return found[0] as ReadableSpan;
};

beforeAll(async () => {
  system = await startSystemStack({ queue });
  const config = loadConfig({ ...system.stack.env('worker'), HTTP_PORT: '0' });
  worker = await startWorker(config, { handlers: parcels.handlers, logger, spanExporters: [exporter] });
  const client = system.publisher();
  const sender = client.createSender(queue);
  const bad = toServiceBusMessage(malformed);
  bad.applicationProperties = { traceparent: '00-not-a-trace-01', 'Diagnostic-Id': 'garbage' };
  expect(await publishEvents(sender, [traced, { raw: bad }], { beforeSend: withPublishSpan })).toMatchObject({
    sent: 2,
    failed: 0,
  });
  await client.close();
  const deadline = Date.now() + 20_000;
  while (system.stack.serviceBus.completedMessageIds(queue).length < 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  // Closing exports every span, the settle spans of the last messages included.
  await worker.close();
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await system?.close();
});

describe('traces of a published message', () => {
  it('form one trace from the publisher through the SQL write to the settlement', () => {
    const create = exporter
      .getFinishedSpans()
      .find((s) => s.name === 'create' && s.attributes['messaging.message.id'] === traced.id);
    expect(create?.kind).toBe(SpanKind.PRODUCER);
    const spans = spansOf(create?.spanContext().traceId ?? 'none');
    const processSpan = one(spans, `process ${queue}`);
    const write = one(spans, 'sql write');
    const complete = one(spans, `complete ${queue}`);
    expect(processSpan.kind).toBe(SpanKind.CONSUMER);
    expect(processSpan.parentSpanContext?.spanId).toBe(create?.spanContext().spanId);
    expect(write.parentSpanContext?.spanId).toBe(processSpan.spanContext().spanId);
    expect(complete.parentSpanContext?.spanId).toBe(processSpan.spanContext().spanId);
    expect(processSpan.attributes['keyless.outcome']).toBe('complete');
    expect(write.attributes['keyless.outcome']).toBe('complete');

    // The batch span is its own trace and links the message spans it wrote; the write span links back.
    const batch = exporter
      .getFinishedSpans()
      .find(
        (s) =>
          s.name === 'sql write batch' &&
          s.links.some((l) => l.context.spanId === processSpan.spanContext().spanId),
      );
    expect(batch).toBeDefined();
    expect(write.links.map((l) => l.context.spanId)).toEqual([batch?.spanContext().spanId]);
  });

  it('start a new trace for a malformed traceparent, and the message is still written and completed', () => {
    const processSpan = exporter
      .getFinishedSpans()
      .find((s) => s.name === `process ${queue}` && s.attributes['messaging.message.id'] === malformed.id);
    expect(processSpan).toBeDefined();
    expect(processSpan?.parentSpanContext).toBeUndefined();
    expect(processSpan?.attributes['keyless.outcome']).toBe('complete');
    const spans = spansOf(processSpan?.spanContext().traceId ?? 'none');
    expect(spans.map((s) => s.name).sort()).toEqual([`complete ${queue}`, `process ${queue}`, 'sql write']);
    expect(system.stack.serviceBus.completedMessageIds(queue)).toContain(malformed.id);
  });

  it('put the trace and span ids on the log lines of the message', () => {
    const processSpan = exporter
      .getFinishedSpans()
      .find((s) => s.name === `process ${queue}` && s.attributes['messaging.message.id'] === traced.id);
    const line = lines.find((l) => l.messageId === traced.id && l.msg === 'completed');
    expect(line).toMatchObject({
      traceId: processSpan?.spanContext().traceId,
      spanId: processSpan?.spanContext().spanId,
    });
  });
});
