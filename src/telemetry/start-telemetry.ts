import type { TokenCredential } from '@azure/identity';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Registry } from 'prom-client';
import type { Config } from '../config.ts';
import type { StartContext } from '../lifecycle.ts';
import { createMessageTracing, type MessageTracing } from './message-spans.ts';
import { startMetricExport } from './metric-export.ts';
import { startTracing } from './tracing.ts';

/**
 * Trace and metric export as configured (OTLP, Azure Monitor with the managed identity, or off),
 * and the message and batch spans over it. Added first, so closed last: the spans and figures of
 * the drain go out too. Undefined when no trace exporter is configured: the path then pays nothing
 * for tracing.
 */
export function startTelemetry(
  config: Config['telemetry'],
  deps: {
    credential: TokenCredential;
    entity: string;
    exporters?: readonly SpanExporter[] | undefined;
    /** The registry behind /metrics: the same instruments are pushed. @defaultValue none (no metrics) */
    registry?: Registry | undefined;
  },
  ctx: StartContext,
): MessageTracing | undefined {
  const tracing = startTracing({ ...config, credential: deps.credential, exporters: deps.exporters ?? [] });
  ctx.closer.add('tracing', () => tracing.close());
  const metricExport = startMetricExport({ ...config, credential: deps.credential, registry: deps.registry });
  ctx.closer.add('metric export', () => metricExport.close());
  if (!tracing.enabled) return undefined;
  ctx.logger.info(
    {
      otlp: config.otlpEndpoint ?? false,
      azureMonitor: config.applicationInsightsConnectionString !== undefined,
    },
    'tracing on',
  );
  return createMessageTracing(tracing.tracer, deps.entity);
}
