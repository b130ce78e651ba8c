import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as HttpMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as HttpTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';

/** How OTLP travels: Container Apps' managed agent takes gRPC only (and sets OTEL_EXPORTER_OTLP_PROTOCOL=grpc). */
export type OtlpProtocol = 'http/json' | 'grpc';

const base = (endpoint: string) => endpoint.replace(/\/+$/, '');

/** gRPC takes the collector's address as it is; OTLP/HTTP posts to the signal's path under it. */
export function otlpSpanExporter(endpoint: string, protocol: OtlpProtocol = 'http/json'): SpanExporter {
  return protocol === 'grpc'
    ? new GrpcTraceExporter({ url: base(endpoint) })
    : new HttpTraceExporter({ url: `${base(endpoint)}/v1/traces` });
}

export function otlpMetricExporter(
  endpoint: string,
  protocol: OtlpProtocol = 'http/json',
): PushMetricExporter {
  return protocol === 'grpc'
    ? new GrpcMetricExporter({ url: base(endpoint) })
    : new HttpMetricExporter({ url: `${base(endpoint)}/v1/metrics` });
}
