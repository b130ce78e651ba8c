import { trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { publisherContext, withPublishSpan } from '../../src/telemetry/trace-context.ts';

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const parentId = '00f067aa0ba902b7';
const spanOf = (props: Record<string, unknown>) =>
  trace.getSpanContext(publisherContext({ applicationProperties: props as Record<string, string> }));

describe('trace context from a received message', () => {
  it('continues the traceparent the publisher set', () => {
    expect(spanOf({ traceparent: `00-${traceId}-${parentId}-01` })).toMatchObject({
      traceId,
      spanId: parentId,
      traceFlags: 1,
      isRemote: true,
    });
  });

  it("falls back to the Azure SDK's Diagnostic-Id", () => {
    expect(spanOf({ 'Diagnostic-Id': `00-${traceId}-${parentId}-01` })).toMatchObject({
      traceId,
      spanId: parentId,
    });
  });

  it('gives no parent for a malformed or missing value, so the message starts a new trace', () => {
    expect(spanOf({ traceparent: '00-not-a-trace-01' })).toBeUndefined();
    expect(spanOf({ traceparent: 42 })).toBeUndefined();
    expect(spanOf({})).toBeUndefined();
  });
});

describe('trace context on a published event', () => {
  it('leaves the event as it was while tracing is off', () => {
    const event = { specversion: '1.0' as const, id: 'e-1', source: '/t', type: 't', data: {} };
    expect(withPublishSpan(event)).toBe(event);
  });
});
