import type { TokenCredential } from '@azure/identity';
import { AzureMonitorTraceExporter } from '@azure/monitor-opentelemetry-exporter';
import { context, propagation, type Tracer, trace } from '@opentelemetry/api';
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { type OtlpProtocol, otlpSpanExporter } from './otlp.ts';
import { type ServiceIdentity, serviceResource } from './resource.ts';
import { tracerName } from './trace-context.ts';

/** Where spans go: OTLP, Azure Monitor, both, or nowhere (tracing off). */
export type TracingOptions = ServiceIdentity & {
  /** OTLP base URL; over HTTP spans go to `${endpoint}/v1/traces`. @defaultValue undefined */
  otlpEndpoint?: string | undefined;
  /** @defaultValue 'http/json' */
  otlpProtocol?: OtlpProtocol;
  /** Application Insights connection string (instrumentation key + ingestion endpoint). @defaultValue undefined */
  applicationInsightsConnectionString?: string | undefined;
  /** Authenticates ingestion to Azure Monitor (Entra auth), so telemetry needs no key either. */
  credential?: TokenCredential;
  /** Extra exporters, exported span by span (tests use an in-memory one). @defaultValue [] */
  exporters?: readonly SpanExporter[];
};

export type Tracing = {
  /** Whether any exporter is configured; off means every span is a no-op. */
  readonly enabled: boolean;
  readonly tracer: Tracer;
  /** Exports what is buffered and stops. Idempotent. */
  close(): Promise<void>;
};

/**
 * Registers the process's tracer provider when an exporter is configured. Spans are created through
 * the OpenTelemetry API everywhere else, so with tracing off they cost nothing and change nothing.
 */
export function startTracing(options: TracingOptions): Tracing {
  const processors: SpanProcessor[] = [];
  if (options.otlpEndpoint) {
    processors.push(new BatchSpanProcessor(otlpSpanExporter(options.otlpEndpoint, options.otlpProtocol)));
  }
  if (options.applicationInsightsConnectionString) {
    processors.push(
      new BatchSpanProcessor(
        new AzureMonitorTraceExporter({
          connectionString: options.applicationInsightsConnectionString,
          // Entra ingestion: the workspace can disable local (key) auth entirely.
          ...(options.credential ? { credential: options.credential } : {}),
        }),
      ),
    );
  }
  for (const exporter of options.exporters ?? []) processors.push(new SimpleSpanProcessor(exporter));
  if (processors.length === 0) {
    return { enabled: false, tracer: trace.getTracer(tracerName), close: async () => {} };
  }
  const provider = new NodeTracerProvider({
    resource: serviceResource(options),
    spanProcessors: processors,
  });
  provider.register();
  let closing: Promise<void> | undefined;
  return {
    enabled: true,
    tracer: trace.getTracer(tracerName),
    close() {
      closing ??= (async () => {
        try {
          await provider.shutdown();
        } finally {
          trace.disable();
          context.disable();
          propagation.disable();
        }
      })();
      return closing;
    },
  };
}
export type { SpanExporter };
