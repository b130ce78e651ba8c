import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleEvent } from '../../src/cloudevents/sample-events.ts';
import { publishEvents } from '../../src/servicebus/publisher.ts';
import { parcelRegisteredType, parcels } from '../fixtures/parcels/events.ts';
import { type OtlpReceiver, startOtlpHttpReceiver } from '../helpers/otlp-receiver.ts';
import { fixtureHandlersEnv } from '../helpers/retry-fixture.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';
import { startWorkerProcess } from '../helpers/worker-process.ts';

// The worker process with OTEL_EXPORTER_OTLP_ENDPOINT set, as Container Apps sets it for its
// managed agent: what it handles shows up at the collector, in metrics and in spans.
let system: SystemStack;
let collector: OtlpReceiver;

beforeAll(async () => {
  system = await startSystemStack({ queue: 'orders-telemetry' });
  collector = await startOtlpHttpReceiver();
}, 60_000);
afterAll(async () => {
  await collector?.close();
  await system?.close();
});

type Body = {
  resourceMetrics?: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] };
    scopeMetrics: { metrics: { name: string; sum?: { dataPoints: { asDouble?: number }[] } }[] }[];
  }[];
};
const completed = (bodies: Body[]) =>
  Math.max(
    0,
    ...bodies.flatMap((b) =>
      (b.resourceMetrics ?? []).flatMap((r) =>
        r.scopeMetrics
          .flatMap((s) => s.metrics)
          .filter((m) => m.name === 'keyless_messages_completed_total')
          .map((m) => m.sum?.dataPoints[0]?.asDouble ?? 0),
      ),
    ),
  );

describe('a worker with an OTLP collector configured', () => {
  it('pushes its /metrics instruments and its spans to the collector, naming itself and its replica', async () => {
    const worker = await startWorkerProcess({
      ...system.stack.env('worker'),
      ...fixtureHandlersEnv,
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
      OTEL_METRIC_EXPORT_INTERVAL: '1000',
    });
    try {
      const client = system.publisher();
      const events = Array.from({ length: 5 }, (_, i) =>
        sampleEvent(parcelRegisteredType, parcels.example(parcelRegisteredType, i)),
      );
      await publishEvents(client.createSender(system.stack.file.serviceBus.queue), events);
      await client.close();
      const metrics = () =>
        collector.requests
          .filter((r) => r.path === '/v1/metrics')
          .map((r) => JSON.parse(r.body.toString()) as Body);
      const deadline = Date.now() + 20_000;
      while (completed(metrics()) < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(completed(metrics())).toBe(5);
      const resource = metrics()[0]?.resourceMetrics?.[0]?.resource.attributes ?? [];
      expect(Object.fromEntries(resource.map((a) => [a.key, a.value.stringValue]))).toMatchObject({
        'service.name': 'keyless-worker',
        'service.namespace': 'keyless',
        'service.instance.id': expect.any(String),
      });
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
    // Spans are batched and sent at the latest on shutdown.
    const spans = collector.requests.filter((r) => r.path === '/v1/traces').map((r) => r.body.toString());
    expect(spans.some((b) => b.includes('process orders-telemetry'))).toBe(true);
  }, 60_000);
});
