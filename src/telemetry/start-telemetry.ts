import type { TokenCredential } from '@azure/identity';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Config } from '../config.ts';
import type { StartContext } from '../lifecycle.ts';
import { createMessageTracing, type MessageTracing } from './message-spans.ts';
import { startTracing } from './tracing.ts';

/**
 * Trace export as configured (OTLP, Azure Monitor with the managed identity, or off), and the
 * message and batch spans over it. Added first, so closed last: the spans of the drain go out too.
 * Undefined when no exporter is configured: the path then pays nothing for tracing.
 */
export function startTelemetry(
  config: Config['telemetry'],
  deps: { credential: TokenCredential; entity: string; exporters?: readonly SpanExporter[] | undefined },
  ctx: StartContext,
): MessageTracing | undefined {
  const tracing = startTracing({
    otlpEndpoint: config.otlpEndpoint,
    applicationInsightsConnectionString: config.applicationInsightsConnectionString,
    credential: deps.credential,
    exporters: deps.exporters ?? [],
  });
  ctx.closer.add('tracing', () => tracing.close());
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
