import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';

/** An in-memory exporter that keeps its spans when the worker's close shuts the tracer provider down (the base class forgets them). */
export class KeptSpanExporter extends InMemorySpanExporter {
  override shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
