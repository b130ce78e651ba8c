import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCredential } from '../../src/identity/credential.ts';
import { startTracing } from '../../src/telemetry/tracing.ts';
import { startMonitorStandIns, trackedItems } from '../helpers/ingestion-endpoint.ts';
import { startOtlpGrpcReceiver, startOtlpHttpReceiver } from '../helpers/otlp-receiver.ts';

let monitor: Awaited<ReturnType<typeof startMonitorStandIns>>;
beforeAll(async () => {
  monitor = await startMonitorStandIns();
});
afterAll(() => monitor?.close());

describe('trace export', () => {
  it('sends spans to Azure Monitor with a bearer token of the managed identity for https://monitor.azure.com, no key', async () => {
    const worker = monitor.identity.addIdentity('keyless-worker');
    const tracing = startTracing({
      applicationInsightsConnectionString: `InstrumentationKey=${randomUUID()};IngestionEndpoint=${monitor.ingestion.url}`,
      credential: createCredential({ clientId: worker.clientId }),
    });
    expect(tracing.enabled).toBe(true);
    tracing.tracer.startSpan('process orders-monitor').end();
    await tracing.close();

    const track = monitor.ingestion.received.filter((r) => r.path.includes('/track'));
    expect(track.length).toBeGreaterThan(0);
    const span = trackedItems(track).find((i) => JSON.stringify(i).includes('process orders-monitor'));
    // Application Insights names the worker by its cloud role, `service.namespace`.`service.name`.
    expect(span?.tags).toMatchObject({ 'ai.cloud.role': 'keyless.keyless-worker' });
    for (const r of track) {
      expect(r.authorization).toMatch(/^Bearer /);
      const check = monitor.identity.verify(
        String(r.authorization).slice('Bearer '.length),
        'https://monitor.azure.com',
      );
      expect(check.ok).toBe(true);
      if (check.ok) expect(check.claims.oid).toBe(worker.objectId);
    }
  });

  it.each([
    ['OTLP/HTTP', 'http/json', startOtlpHttpReceiver, '/v1/traces'],
    [
      'OTLP/gRPC',
      'grpc',
      startOtlpGrpcReceiver,
      '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
    ],
  ] as const)(
    'sends spans over %s to the collector at OTEL_EXPORTER_OTLP_ENDPOINT, naming the service and replica',
    async (_name, otlpProtocol, start, path) => {
      const collector = await start();
      try {
        const tracing = startTracing({
          otlpEndpoint: collector.endpoint,
          otlpProtocol,
          instanceId: 'replica-7',
        });
        tracing.tracer.startSpan('process orders-otlp').end();
        await tracing.close();
        expect(collector.requests.map((r) => r.path)).toContain(path);
        const body = collector.requests.map((r) => r.body.toString('latin1')).join('\n');
        for (const text of ['process orders-otlp', 'keyless-worker', 'replica-7'])
          expect(body).toContain(text);
      } finally {
        await collector.close();
      }
    },
  );

  it('is off, with no exporter, when neither endpoint is configured', async () => {
    const tracing = startTracing({});
    expect(tracing.enabled).toBe(false);
    const span = tracing.tracer.startSpan('nothing');
    expect(span.isRecording()).toBe(false);
    span.end();
    await tracing.close();
  });
});
