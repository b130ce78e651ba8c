import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import {
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { CloudEvent } from '../cloudevents/cloud-event.ts';
import type { Outcome } from '../pipeline/outcome.ts';
import type { MessageObserver } from '../servicebus/message-path.ts';
import { publisherContext } from './trace-context.ts';

export type MessageTracing = {
  /**
   * Starts a message's span when the path takes it (`process`, or `retry` for a delayed attempt, in
   * the publisher's trace), a settle span around settlement, and ends both on settle.
   */
  observer: MessageObserver;
  /**
   * Wraps one batch write: a batch span linking its messages' spans, and in each message's own
   * trace a write span linking back to the batch.
   */
  traceBatch(
    events: readonly CloudEvent[],
    write: () => Promise<Map<string, Outcome>>,
  ): Promise<Map<string, Outcome>>;
};

const idOf = (m: ServiceBusReceivedMessage): string => String(m.messageId ?? '');

export function createMessageTracing(tracer: Tracer, entity: string): MessageTracing {
  const byId = new Map<string, Span>();
  const byMessage = new WeakMap<ServiceBusReceivedMessage, { span: Span; settle?: Span }>();

  const observer: MessageObserver = {
    received(message, source, fields) {
      const span = tracer.startSpan(
        `${source === 'retry' ? 'retry' : 'process'} ${entity}`,
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            'messaging.system': 'servicebus',
            'messaging.operation.type': 'process',
            'messaging.destination.name': entity,
            'messaging.message.id': idOf(message),
            'messaging.servicebus.message.delivery_count': message.deliveryCount ?? 0,
            ...(typeof fields?.attempt === 'number' ? { 'keyless.retry.attempt': fields.attempt } : {}),
          },
        },
        publisherContext(message),
      );
      byMessage.set(message, { span });
      byId.set(idOf(message), span);
      const c = span.spanContext();
      return isSpanContextValid(c) ? { traceId: c.traceId, spanId: c.spanId } : undefined;
    },
    settling(message, outcome) {
      const entry = byMessage.get(message);
      if (!entry) return;
      entry.settle = tracer.startSpan(
        `${outcome.kind} ${entity}`,
        {
          kind: SpanKind.CLIENT,
          attributes: { 'messaging.system': 'servicebus', 'messaging.operation.name': outcome.kind },
        },
        trace.setSpan(ROOT_CONTEXT, entry.span),
      );
    },
    settled(report, outcome, message) {
      const entry = byMessage.get(message);
      if (!entry) return;
      byMessage.delete(message);
      if (byId.get(idOf(message)) === entry.span) byId.delete(idOf(message));
      if (!report.settled) {
        entry.settle?.setStatus({ code: SpanStatusCode.ERROR, message: report.errorCode ?? 'settle failed' });
      }
      entry.settle?.end();
      entry.span.setAttribute('keyless.outcome', outcome.kind);
      if (outcome.kind === 'deadLetter') {
        entry.span.setAttribute('keyless.dead_letter_reason', outcome.reason);
        entry.span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.reason });
      }
      entry.span.end();
    },
  };

  return {
    observer,
    traceBatch(events, write) {
      const links = events
        .map((e) => byId.get(e.id)?.spanContext())
        .filter((c): c is SpanContext => c !== undefined && isSpanContextValid(c))
        .map((context) => ({ context }));
      return tracer.startActiveSpan(
        'sql write batch',
        {
          kind: SpanKind.CLIENT,
          links,
          attributes: { 'db.system.name': 'microsoft.sql_server', 'db.operation.batch.size': events.length },
        },
        // A root of its own whatever span was active when the batch was flushed (a retry's, say):
        // it belongs to every message it writes, linked, not to one of them.
        ROOT_CONTEXT,
        async (batch) => {
          const startTime = Date.now();
          let outcomes: Map<string, Outcome> | undefined;
          try {
            outcomes = await write();
            return outcomes;
          } catch (error: unknown) {
            batch.recordException(error as Error);
            batch.setStatus({ code: SpanStatusCode.ERROR });
            throw error;
          } finally {
            const endTime = Date.now();
            batch.end(endTime);
            for (const e of events) {
              const parent = byId.get(e.id);
              if (!parent) continue;
              tracer
                .startSpan(
                  'sql write',
                  {
                    kind: SpanKind.INTERNAL,
                    startTime,
                    links: [{ context: batch.spanContext() }],
                    attributes: { 'keyless.outcome': outcomes?.get(e.id)?.kind ?? 'abandon' },
                  },
                  trace.setSpan(ROOT_CONTEXT, parent),
                )
                .end(endTime);
            }
          }
        },
      );
    },
  };
}
