import { type Attributes, type HrTime, ValueType } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  type CollectionResult,
  DataPointType,
  InstrumentType,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import type { Registry } from 'prom-client';
import { tracerName } from './trace-context.ts';

/** What an exporter wants per kind of instrument: Azure Monitor takes deltas, OTLP collectors totals. */
export type TemporalityOf = (instrument: InstrumentType) => AggregationTemporality;

type Series = { value: number; labels: Record<string, string | number>; metricName?: string };
type Buckets = { boundaries: number[]; counts: number[]; sum: number; count: number };

const seriesKey = (name: string, labels: Attributes) =>
  `${name}${JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)))}`;
const unitOf = (name: string) => (/_seconds(_|$)/.test(name) ? 's' : /_bytes(_|$)/.test(name) ? 'By' : '');

/** A Prometheus histogram's cumulative `le` buckets, per label set, as OpenTelemetry's per-bucket counts. */
function histogramSeries(
  values: readonly Series[],
  name: string,
): Map<string, { labels: Attributes; b: Buckets }> {
  const byLabels = new Map<
    string,
    { labels: Attributes; le: [number, number][]; sum: number; count: number }
  >();
  for (const v of values) {
    const { le, ...labels } = v.labels;
    const key = seriesKey(name, labels);
    const entry = byLabels.get(key) ?? { labels, le: [], sum: 0, count: 0 };
    byLabels.set(key, entry);
    if (v.metricName === `${name}_bucket` && le !== '+Inf') entry.le.push([Number(le), v.value]);
    else if (v.metricName === `${name}_sum`) entry.sum = v.value;
    else if (v.metricName === `${name}_count`) entry.count = v.value;
  }
  const out = new Map<string, { labels: Attributes; b: Buckets }>();
  for (const [key, e] of byLabels) {
    e.le.sort(([a], [b]) => a - b);
    const cumulative = [...e.le.map(([, c]) => c), e.count];
    const counts = cumulative.map((c, i) => c - (i === 0 ? 0 : (cumulative[i - 1] as number)));
    out.set(key, {
      labels: e.labels,
      b: { boundaries: e.le.map(([b]) => b), counts, sum: e.sum, count: e.count },
    });
  }
  return out;
}

/**
 * Hands the prom-client registry to an OpenTelemetry MetricReader at each export, so the instruments
 * behind /metrics are the ones pushed over OTLP and to Azure Monitor: one set of instruments, read
 * where they are, no second copy to keep in step. Counters and histograms go as totals or as the
 * change since the previous export, as the reader's exporter asks; a counter that went down (the
 * registry was reset) starts over from its value.
 */
export function prometheusProducer(
  registry: Pick<Registry, 'getMetricsAsJSON'>,
  temporalityOf: TemporalityOf = () => AggregationTemporality.CUMULATIVE,
): MetricProducer {
  const processStart = hrTime();
  let previousExport: HrTime = processStart;
  const previous = new Map<string, number | Buckets>();

  const delta = (key: string, value: number): number => {
    const before = previous.get(key);
    previous.set(key, value);
    return typeof before === 'number' && before <= value ? value - before : value;
  };
  const deltaBuckets = (key: string, b: Buckets): Buckets => {
    const before = previous.get(key);
    previous.set(key, b);
    if (typeof before !== 'object' || before.count > b.count || before.counts.length !== b.counts.length)
      return b;
    return {
      boundaries: b.boundaries,
      counts: b.counts.map((c, i) => c - (before.counts[i] as number)),
      sum: b.sum - before.sum,
      count: b.count - before.count,
    };
  };

  return {
    async collect(): Promise<CollectionResult> {
      const now = hrTime();
      const metrics: MetricData[] = [];
      for (const m of await registry.getMetricsAsJSON()) {
        const values = m.values as Series[];
        if (values.length === 0) continue;
        const descriptor = {
          name: m.name,
          description: m.help,
          unit: unitOf(m.name),
          valueType: ValueType.DOUBLE,
        };
        const kind = String(m.type);
        // A delta covers the time since the previous export; a total, the time since the process began.
        const sum = (instrument: InstrumentType) => {
          const aggregationTemporality = temporalityOf(instrument);
          const isDelta = aggregationTemporality === AggregationTemporality.DELTA;
          return { aggregationTemporality, isDelta, startTime: isDelta ? previousExport : processStart };
        };
        if (kind === 'counter') {
          const { aggregationTemporality, isDelta, startTime } = sum(InstrumentType.COUNTER);
          metrics.push({
            descriptor,
            aggregationTemporality,
            dataPointType: DataPointType.SUM,
            isMonotonic: true,
            dataPoints: values.map((v) => ({
              startTime,
              endTime: now,
              attributes: v.labels,
              value: isDelta ? delta(seriesKey(m.name, v.labels), v.value) : v.value,
            })),
          });
        } else if (kind === 'gauge') {
          metrics.push({
            descriptor,
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.GAUGE,
            dataPoints: values.map((v) => ({
              startTime: now,
              endTime: now,
              attributes: v.labels,
              value: v.value,
            })),
          });
        } else if (kind === 'histogram') {
          const { aggregationTemporality, isDelta, startTime } = sum(InstrumentType.HISTOGRAM);
          metrics.push({
            descriptor,
            aggregationTemporality,
            dataPointType: DataPointType.HISTOGRAM,
            dataPoints: [...histogramSeries(values, m.name)].map(([key, { labels, b }]) => {
              const v = isDelta ? deltaBuckets(key, b) : b;
              return {
                startTime,
                endTime: now,
                attributes: labels,
                value: {
                  buckets: { boundaries: v.boundaries, counts: v.counts },
                  sum: v.sum,
                  count: v.count,
                },
              };
            }),
          });
        }
        // Summaries (quantiles computed in the process) have no OpenTelemetry equivalent; none is registered.
      }
      previousExport = now;
      return {
        resourceMetrics: {
          resource: emptyResource(),
          scopeMetrics: [{ scope: { name: tracerName }, metrics }],
        },
        errors: [],
      };
    },
  };
}
