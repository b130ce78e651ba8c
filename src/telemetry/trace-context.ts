import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import { type Context, context, isSpanContextValid, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { CloudEvent } from '../cloudevents/cloud-event.ts';

/** The instrumentation scope of every span the worker makes. */
export const tracerName = 'keyless-worker';

const w3c = new W3CTraceContextPropagator();

/**
 * The publisher's context from a received message: `traceparent`, else the Azure SDK's
 * `Diagnostic-Id` (the same W3C format). A malformed value gives no parent: the message starts a
 * new trace and is otherwise handled like any other.
 */
export function publisherContext(message: Pick<ServiceBusReceivedMessage, 'applicationProperties'>): Context {
  const props = message.applicationProperties ?? {};
  const traceparent = props.traceparent ?? props['Diagnostic-Id'];
  if (typeof traceparent !== 'string') return ROOT_CONTEXT;
  const carrier: Record<string, string> = { traceparent };
  if (typeof props.tracestate === 'string') carrier.tracestate = props.tracestate;
  return w3c.extract(ROOT_CONTEXT, carrier, {
    get: (c, key) => c[key],
    keys: (c) => Object.keys(c),
  });
}

const fromTraceparent = (traceparent: string): Context =>
  w3c.extract(
    ROOT_CONTEXT,
    { traceparent },
    { get: (c, k) => c[k as 'traceparent'], keys: () => ['traceparent'] },
  );

/**
 * The event with the `traceparent` of a new producer span, a child of the trace the event already
 * carries or else of the active one; the consumer continues it. With tracing off, the event as it was.
 */
export function withPublishSpan(event: CloudEvent): CloudEvent {
  const parent = event.traceparent ? fromTraceparent(event.traceparent) : context.active();
  const span = trace.getTracer(tracerName).startSpan(
    'create',
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'servicebus',
        'messaging.operation.type': 'create',
        'messaging.message.id': event.id,
      },
    },
    parent,
  );
  const c = span.spanContext();
  span.end();
  if (!isSpanContextValid(c)) return event;
  return {
    ...event,
    traceparent: `00-${c.traceId}-${c.spanId}-${c.traceFlags.toString(16).padStart(2, '0')}`,
  };
}

/**
 * The active span's ids, for a log line: a line written inside a span (a batch write, say) carries
 * its trace; with tracing off there is none.
 */
export function traceFields(): object {
  const span = trace.getActiveSpan()?.spanContext();
  return span && isSpanContextValid(span) ? { traceId: span.traceId, spanId: span.spanId } : {};
}
