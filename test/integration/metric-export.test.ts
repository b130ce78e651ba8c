import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCredential } from '../../src/identity/credential.ts';
import { createMetrics } from '../../src/metrics-registry.ts';
import { startMetricExport } from '../../src/telemetry/metric-export.ts';
import { startMonitorStandIns, trackedItems } from '../helpers/ingestion-endpoint.ts';
import { startOtlpGrpcReceiver, startOtlpHttpReceiver } from '../helpers/otlp-receiver.ts';
import { until } from './consumer-stand-ins.ts';

// The worker's own kind of registry and instruments, pushed by the real OTLP and Azure Monitor
// exporters to receivers on this machine that keep what arrives.
const replica = 'keyless-worker--rev1-5d8f7c9b4-x2x7q';

const instruments = () => {
  const metrics = createMetrics({ processMetrics: false });
  const received = metrics.counter('keyless_test_received_total', 'Messages received.');
  const deadLettered = metrics.counter('keyless_test_dead_lettered_total', 'Dead-lettered.', {
    labelNames: ['reason'],
  });
  metrics.gauge('keyless_test_in_flight', 'Held now.', { collect: (g) => g.set(7) });
  const lag = metrics.histogram('keyless_test_lag_seconds', 'Lag.', { buckets: [0.1, 1, 10] });
  return { metrics, received, deadLettered, lag };
};

type OtlpValue = { stringValue?: string };
type OtlpPoint = {
  attributes?: { key: string; value: OtlpValue }[];
  asDouble?: number;
  count?: number | string;
  sum?: number;
  bucketCounts?: (number | string)[];
  explicitBounds?: number[];
};
type OtlpMetric = {
  name: string;
  unit?: string;
  sum?: { dataPoints: OtlpPoint[]; aggregationTemporality: number; isMonotonic: boolean };
  gauge?: { dataPoints: OtlpPoint[] };
  histogram?: { dataPoints: OtlpPoint[]; aggregationTemporality: number };
};
type OtlpBody = {
  resourceMetrics: {
    resource: { attributes: { key: string; value: OtlpValue }[] };
    scopeMetrics: { metrics: OtlpMetric[] }[];
  }[];
};
const attributes = (list: { key: string; value: OtlpValue }[] = []) =>
  Object.fromEntries(list.map((a) => [a.key, a.value.stringValue]));
const metricsOf = (body: OtlpBody) =>
  new Map(
    body.resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics)).map((m) => [m.name, m]),
  );
const counterValue = (body: OtlpBody) =>
  metricsOf(body).get('keyless_test_received_total')?.sum?.dataPoints[0]?.asDouble;

describe('metric export over OTLP', () => {
  it('pushes the counters, gauges and histograms of the registry with their values, labels and the replica as resource', async () => {
    const receiver = await startOtlpHttpReceiver();
    try {
      const { metrics, received, deadLettered, lag } = instruments();
      received.inc(3);
      deadLettered.inc({ reason: 'InvalidJson' }, 2);
      for (const seconds of [0.05, 0.5, 0.7, 20]) lag.observe(seconds);
      const exported = startMetricExport({
        registry: metrics.registry,
        otlpEndpoint: receiver.endpoint,
        instanceId: replica,
      });
      expect(exported.enabled).toBe(true);
      await exported.close();

      expect(receiver.requests.map((r) => r.path)).toEqual(['/v1/metrics']);
      const body = JSON.parse(receiver.requests[0]?.body.toString() ?? '{}') as OtlpBody;
      expect(attributes(body.resourceMetrics[0]?.resource.attributes)).toMatchObject({
        'service.name': 'keyless-worker',
        'service.namespace': 'keyless',
        'service.instance.id': replica,
      });
      const m = metricsOf(body);
      const counter = m.get('keyless_test_received_total');
      expect(counter?.sum).toMatchObject({ isMonotonic: true, aggregationTemporality: 2 });
      expect(counter?.sum?.dataPoints.map((p) => p.asDouble)).toEqual([3]);
      const byReason = m.get('keyless_test_dead_lettered_total')?.sum?.dataPoints[0];
      expect([attributes(byReason?.attributes), byReason?.asDouble]).toEqual([{ reason: 'InvalidJson' }, 2]);
      expect(m.get('keyless_test_in_flight')?.gauge?.dataPoints.map((p) => p.asDouble)).toEqual([7]);
      const histogram = m.get('keyless_test_lag_seconds');
      expect(histogram?.unit).toBe('s');
      const point = histogram?.histogram?.dataPoints[0];
      expect(Number(point?.count)).toBe(4);
      expect(point?.sum).toBeCloseTo(21.25);
      expect(point?.explicitBounds).toEqual([0.1, 1, 10]);
      expect(point?.bucketCounts?.map(Number)).toEqual([1, 2, 0, 1]);
    } finally {
      await receiver.close();
    }
  });

  it('pushes again at each interval with the totals of the moment', async () => {
    const receiver = await startOtlpHttpReceiver();
    const { metrics, received } = instruments();
    const exported = startMetricExport({
      registry: metrics.registry,
      otlpEndpoint: receiver.endpoint,
      metricExportIntervalMs: 200,
    });
    try {
      const values = () =>
        receiver.requests.map((r) => counterValue(JSON.parse(r.body.toString()) as OtlpBody));
      received.inc(3);
      await until(() => values().includes(3), 5_000, 'an export with 3');
      received.inc(2);
      await until(() => values().includes(5), 5_000, 'a later export with 5');
    } finally {
      await exported.close();
      await receiver.close();
    }
  });

  it("speaks gRPC when OTEL_EXPORTER_OTLP_PROTOCOL is grpc, as Container Apps' managed agent requires", async () => {
    const receiver = await startOtlpGrpcReceiver();
    try {
      const { metrics, received } = instruments();
      received.inc();
      const exported = startMetricExport({
        registry: metrics.registry,
        otlpEndpoint: receiver.endpoint,
        otlpProtocol: 'grpc',
        instanceId: replica,
      });
      await exported.close();
      expect(receiver.requests.map((r) => r.path)).toEqual([
        '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
      ]);
      // Protobuf keeps strings as they are: the instrument's and the replica's names are in the request.
      const body = receiver.requests[0]?.body.toString('latin1') ?? '';
      for (const text of [
        'keyless_test_received_total',
        'keyless_test_lag_seconds',
        replica,
        'service.namespace',
      ])
        expect(body).toContain(text);
    } finally {
      await receiver.close();
    }
  });

  it('is off without a destination, and without a registry to read', async () => {
    const { metrics } = instruments();
    expect(startMetricExport({ registry: metrics.registry }).enabled).toBe(false);
    expect(startMetricExport({ otlpEndpoint: 'http://127.0.0.1:9' }).enabled).toBe(false);
  });
});

describe('metric export to Azure Monitor', () => {
  let monitor: Awaited<ReturnType<typeof startMonitorStandIns>>;
  beforeAll(async () => {
    monitor = await startMonitorStandIns();
  });
  afterAll(() => monitor?.close());

  it('sends changes since the last export with a bearer token of the managed identity, under the cloud role and replica', async () => {
    const worker = monitor.identity.addIdentity('keyless-worker');
    const { metrics, received, lag } = instruments();
    const exported = startMetricExport({
      registry: metrics.registry,
      applicationInsightsConnectionString: `InstrumentationKey=${randomUUID()};IngestionEndpoint=${monitor.ingestion.url}`,
      credential: createCredential({ clientId: worker.clientId }),
      instanceId: replica,
      metricExportIntervalMs: 200,
    });
    type Envelope = {
      name: string;
      tags: Record<string, string>;
      data: { baseData: { metrics: { name: string; value: number; count?: number }[] } };
    };
    const points = (name: string) =>
      (trackedItems(monitor.ingestion.received) as Envelope[])
        .filter((e) => e.name === 'Microsoft.ApplicationInsights.Metric')
        .flatMap((e) => e.data.baseData.metrics.map((m) => ({ ...m, tags: e.tags })))
        .filter((m) => m.name === name);
    try {
      received.inc(3);
      lag.observe(0.5);
      await until(
        () => points('keyless_test_received_total').some((p) => p.value === 3),
        10_000,
        'the first 3',
      );
      received.inc(2);
      lag.observe(1.5);
    } finally {
      await exported.close();
    }

    // Azure Monitor adds up what each export says: deltas, whose sum is the total, never the total twice.
    const counter = points('keyless_test_received_total');
    expect(counter.reduce((s, p) => s + p.value, 0)).toBe(5);
    expect(Math.max(...counter.map((p) => p.value))).toBe(3);
    const lags = points('keyless_test_lag_seconds');
    expect(lags.reduce((s, p) => s + (p.count ?? 0), 0)).toBe(2);
    expect(lags.reduce((s, p) => s + p.value, 0)).toBeCloseTo(2);
    expect(points('keyless_test_in_flight').at(-1)?.value).toBe(7);
    expect(counter[0]?.tags).toMatchObject({
      'ai.cloud.role': 'keyless.keyless-worker',
      'ai.cloud.roleInstance': replica,
    });
    const track = monitor.ingestion.received.filter((r) => r.path.includes('/track'));
    expect(track.length).toBeGreaterThan(1);
    for (const r of track) {
      const check = monitor.identity.verify(
        String(r.authorization).replace(/^Bearer /, ''),
        'https://monitor.azure.com',
      );
      expect(check.ok).toBe(true);
      if (check.ok) expect(check.claims.oid).toBe(worker.objectId);
    }
  });
});
