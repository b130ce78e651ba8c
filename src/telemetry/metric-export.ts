import type { TokenCredential } from '@azure/identity';
import { AzureMonitorMetricExporter } from '@azure/monitor-opentelemetry-exporter';
import {
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import type { Registry } from 'prom-client';
import { type OtlpProtocol, otlpMetricExporter } from './otlp.ts';
import { prometheusProducer } from './prometheus-producer.ts';
import { type ServiceIdentity, serviceResource } from './resource.ts';

/** Where the registry's metrics are pushed besides /metrics: OTLP, Azure Monitor, both, or nowhere. */
export type MetricExportOptions = ServiceIdentity & {
  /** The instruments to push. @defaultValue undefined (nothing to push: off) */
  registry?: Pick<Registry, 'getMetricsAsJSON'> | undefined;
  /** OTLP base URL; over HTTP metrics go to `${endpoint}/v1/metrics`. @defaultValue undefined */
  otlpEndpoint?: string | undefined;
  /** @defaultValue 'http/json' */
  otlpProtocol?: OtlpProtocol;
  /** Application Insights connection string. @defaultValue undefined */
  applicationInsightsConnectionString?: string | undefined;
  /** Authenticates ingestion to Azure Monitor (Entra auth), as for traces. */
  credential?: TokenCredential;
  /** @defaultValue 60000 */
  metricExportIntervalMs?: number;
  /** Extra exporters (tests). @defaultValue [] */
  metricExporters?: readonly PushMetricExporter[];
};

export type MetricExport = {
  readonly enabled: boolean;
  /** Pushes what the instruments hold now, once more, and stops. Idempotent. */
  close(): Promise<void>;
};

/**
 * One periodic reader per destination, each reading the prom-client registry itself: each gets the
 * temporality its exporter asks for (Azure Monitor sums deltas; an OTLP collector takes totals).
 */
export function startMetricExport(options: MetricExportOptions): MetricExport {
  const exporters: PushMetricExporter[] = [];
  if (options.otlpEndpoint) exporters.push(otlpMetricExporter(options.otlpEndpoint, options.otlpProtocol));
  if (options.applicationInsightsConnectionString) {
    exporters.push(
      new AzureMonitorMetricExporter({
        connectionString: options.applicationInsightsConnectionString,
        ...(options.credential ? { credential: options.credential } : {}),
      }),
    );
  }
  exporters.push(...(options.metricExporters ?? []));
  const registry = options.registry;
  if (!registry || exporters.length === 0) return { enabled: false, close: async () => {} };
  const intervalMs = options.metricExportIntervalMs ?? 60_000;
  const provider = new MeterProvider({
    resource: serviceResource(options),
    readers: exporters.map(
      (exporter) =>
        new PeriodicExportingMetricReader({
          exporter,
          exportIntervalMillis: intervalMs,
          exportTimeoutMillis: Math.min(30_000, intervalMs),
          metricProducers: [
            prometheusProducer(
              registry,
              (instrument) =>
                exporter.selectAggregationTemporality?.(instrument) ?? AggregationTemporality.CUMULATIVE,
            ),
          ],
        }),
    ),
  });
  let closing: Promise<void> | undefined;
  return {
    enabled: true,
    close() {
      closing ??= provider.shutdown();
      return closing;
    },
  };
}
