import { defineCommand, usageError } from './cli.ts';
import { durationMs, positiveInteger } from './cli-values.ts';

/** Backlog sizes of the throughput part: full (about 2.5 min on 2 cores), --quick (1.5), --tiny (the test's). */
export type ThroughputSizes = {
  /**
   * The floor and the worker at the same credit window, in steady state: not shortened by --quick,
   * since both still warm up over the first 30,000 messages.
   */
  equal: number;
  /** The defaults with the lag load after it. */
  small: number;
  naive: number;
  naiveConcurrent: number;
  lagSeconds: number;
  sqlOnly: number;
};

export type BenchArgs =
  | { command: 'throughput'; sizes: ThroughputSizes; profile: boolean }
  | { command: 'outage'; burst: number; downSeconds: number; warmUp: number; retryPath: boolean };

const throughputSizes: Record<'full' | 'quick' | 'tiny', ThroughputSizes> = {
  full: { equal: 50_000, small: 5_000, naive: 1_000, naiveConcurrent: 3_000, lagSeconds: 10, sqlOnly: 2_000 },
  quick: { equal: 50_000, small: 2_000, naive: 200, naiveConcurrent: 1_000, lagSeconds: 3, sqlOnly: 1_000 },
  tiny: { equal: 2_000, small: 200, naive: 20, naiveConcurrent: 60, lagSeconds: 1, sqlOnly: 200 },
};
// Without the breaker a burst deferred in an outage comes back at about 70-100 msg/s: these keep the
// case near 2 minutes. The warm-up is the events the worker handles first, so that the clean drain
// does not carry the JIT's start (it lasts some 20,000-30,000 messages).
const outageSizes = {
  full: { burst: 5_000, downSeconds: 20, warmUp: 20_000 },
  quick: { burst: 2_000, downSeconds: 10, warmUp: 10_000 },
  tiny: { burst: 200, downSeconds: 3, warmUp: 200 },
};

/** `npm run bench` flags, apart from the bench itself so that its measurement code stays its own. */
export const benchCommand = defineCommand({
  name: 'bench',
  usage:
    'npm run bench -- [--quick | --tiny] [--profile] | --outage [--retry-path] [--burst N] [--down DURATION]',
  about:
    'The pipeline as a user runs it, per configuration, beside the SDK floor at the same credit window\n' +
    'in steady state, and the SQL write path alone; prints figures and the ratios against the targets\n' +
    '(docs/benchmarks.md). About 2.5 min on 2 cores. --outage: a burst drained clean and again through\n' +
    'a database outage, timed from the moment intake resumes. --retry-path: the outage with the breaker\n' +
    'held off, so that the whole burst is deferred and comes back through the retry path.',
  flags: {
    quick: { type: 'boolean', help: 'shorter: about 1.5 min (the floor and the worker keep 50,000)' },
    tiny: { type: 'boolean', help: "the test's sizes: seconds, figures not meaningful" },
    profile: { type: 'boolean', help: "adds where the worker's CPU goes, by package and src/ file" },
    outage: { type: 'boolean', help: 'the outage case instead of the throughput part' },
    'retry-path': {
      type: 'boolean',
      help: 'with --outage: no breaker, retries due within a second: the retry path drains the burst',
    },
    burst: { type: 'string', value: 'N', help: 'with --outage: events in the burst (default 5000)' },
    down: {
      type: 'string',
      value: 'DURATION',
      help: 'with --outage: how long SQL fails: 20 (seconds), 30s, 2m',
    },
  },
  parse: (v): BenchArgs => {
    if (v.quick && v.tiny) usageError('give --quick or --tiny, not both');
    const size = v.tiny ? 'tiny' : v.quick ? 'quick' : 'full';
    if (!v.outage) {
      if (v.burst !== undefined || v.down !== undefined || v['retry-path'])
        usageError('--burst, --down and --retry-path go with --outage');
      return { command: 'throughput', sizes: throughputSizes[size], profile: v.profile ?? false };
    }
    if (v.profile) usageError('--profile goes with the throughput part, not with --outage');
    return {
      command: 'outage',
      burst: v.burst === undefined ? outageSizes[size].burst : positiveInteger('burst', v.burst),
      downSeconds: v.down === undefined ? outageSizes[size].downSeconds : durationMs('down', v.down) / 1000,
      warmUp: outageSizes[size].warmUp,
      retryPath: v['retry-path'] ?? false,
    };
  },
});
