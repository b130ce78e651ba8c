import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { createMessageTracing } from '../../src/telemetry/message-spans.ts';

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const publisherSpan = '00f067aa0ba902b7';

function setup() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracing = createMessageTracing(provider.getTracer('test'), 'orders');
  const message = {
    messageId: 'm-1',
    deliveryCount: 1,
    applicationProperties: { traceparent: `00-${traceId}-${publisherSpan}-01` },
  } as unknown as ServiceBusReceivedMessage;
  const named = (name: string) => exporter.getFinishedSpans().find((s) => s.name === name);
  return { exporter, tracing, message, named };
}

describe('message spans', () => {
  it('gives a retry span in the publisher’s trace after the message span has ended', async () => {
    const { tracing, message, named } = setup();
    const defer = { kind: 'defer', error: new Error('SQL unavailable') } as const;
    tracing.observer.received?.(message, 'receive');
    tracing.observer.settling?.(message, defer, 'receive', false);
    tracing.observer.settled?.(
      { messageId: 'm-1', sequenceNumber: '7', outcome: 'defer', settled: true },
      defer,
      message,
      'receive',
    );
    // The retry job receives the message again, by sequence number: a new object.
    const again = { ...message, deliveryCount: 2 } as ServiceBusReceivedMessage;
    const complete = { kind: 'complete' } as const;
    tracing.observer.received?.(again, 'retry', { attempt: 2 });
    tracing.observer.settling?.(again, complete, 'retry', false);
    tracing.observer.settled?.(
      { messageId: 'm-1', sequenceNumber: '7', outcome: 'complete', settled: true },
      complete,
      again,
      'retry',
    );
    const retry = named('retry orders');
    expect(retry?.spanContext().traceId).toBe(traceId);
    expect(retry?.parentSpanContext?.spanId).toBe(publisherSpan);
    expect(retry?.attributes['keyless.retry.attempt']).toBe(2);
    expect(named('complete orders')?.parentSpanContext?.spanId).toBe(retry?.spanContext().spanId);
    expect(named('defer orders')?.parentSpanContext?.spanId).toBe(
      named('process orders')?.spanContext().spanId,
    );
  });

  it('marks a settle span failed when the settlement failed, and a dead letter with its reason', () => {
    const { tracing, message, named } = setup();
    tracing.observer.received?.(message, 'receive');
    const outcome = { kind: 'deadLetter', reason: 'ValidationFailed', description: 'bad' } as const;
    tracing.observer.settling?.(message, outcome, 'receive', false);
    tracing.observer.settled?.(
      {
        messageId: 'm-1',
        sequenceNumber: '7',
        outcome: 'deadLetter',
        settled: false,
        errorCode: 'MessageLockLost',
      },
      outcome,
      message,
      'receive',
    );
    expect(named('deadLetter orders')?.status).toMatchObject({ code: 2, message: 'MessageLockLost' });
    expect(named('process orders')?.attributes['keyless.dead_letter_reason']).toBe('ValidationFailed');
  });

  it('records a failed batch write on the batch span and still gives each message its write span', async () => {
    const { tracing, message, named } = setup();
    tracing.observer.received?.(message, 'receive');
    const event = { specversion: '1.0' as const, id: 'm-1', source: '/t', type: 't', data: {} };
    await expect(
      tracing.traceBatch([event], async () => {
        throw new Error('connection lost');
      }),
    ).rejects.toThrow('connection lost');
    const abandon = { kind: 'abandon', error: new Error('connection lost') } as const;
    tracing.observer.settling?.(message, abandon, 'receive', false);
    tracing.observer.settled?.(
      { messageId: 'm-1', sequenceNumber: '7', outcome: 'abandon', settled: true },
      abandon,
      message,
      'receive',
    );
    const processSpan = named('process orders')?.spanContext().spanId;
    expect(named('sql write batch')?.status.code).toBe(2);
    expect(named('sql write batch')?.links.map((l) => l.context.spanId)).toEqual([processSpan]);
    expect(named('sql write')?.parentSpanContext?.spanId).toBe(processSpan);
    expect(named('sql write')?.attributes['keyless.outcome']).toBe('abandon');
  });
});
