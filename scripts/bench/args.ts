import { parseArgs } from 'node:util';

export const benchUsage = `usage: npm run bench [-- --quick | --tiny] [--profile]
       npm run bench -- outage [--quick | --tiny] [--burst N] [--down DURATION]`;

/** Backlog sizes of the throughput part: full (about 3 min on 2 cores), --quick (about 2), --tiny (the test's). */
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
  | { command: 'outage'; burst: number; downSeconds: number; warmUp: number };

const throughputSizes: Record<'full' | 'quick' | 'tiny', ThroughputSizes> = {
  full: { equal: 50_000, small: 5_000, naive: 1_000, naiveConcurrent: 3_000, lagSeconds: 10, sqlOnly: 2_000 },
  quick: { equal: 50_000, small: 2_000, naive: 200, naiveConcurrent: 1_000, lagSeconds: 3, sqlOnly: 1_000 },
  tiny: { equal: 2_000, small: 200, naive: 20, naiveConcurrent: 60, lagSeconds: 1, sqlOnly: 200 },
};
// Today's code applies a burst deferred in an outage at about 70 msg/s: these keep the case near 2
// minutes. The warm-up is the messages the worker handles first, so that the clean drain does not
// carry the JIT's start (it lasts some 20,000-30,000 messages).
const outageSizes = {
  full: { burst: 5_000, downSeconds: 20, warmUp: 20_000 },
  quick: { burst: 2_000, downSeconds: 10, warmUp: 10_000 },
  tiny: { burst: 200, downSeconds: 3, warmUp: 200 },
};

/** A bad flag or value: the caller prints the message and the usage, and exits 2. */
export class BenchUsageError extends Error {
  override readonly name = 'BenchUsageError';
}

const count = (flag: string, value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new BenchUsageError(`--${flag} must be a whole number above 0`);
  return n;
};

/** `20`, `20s` or `2m`: plain numbers are seconds. */
const duration = (flag: string, value: string): number => {
  const m = /^(\d+(?:\.\d+)?)(s|m)?$/.exec(value);
  if (!m || Number(m[1]) <= 0) throw new BenchUsageError(`--${flag} must be a duration such as 20s or 2m`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
};

/** `npm run bench` arguments; every flag of the bench is read here. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error: unknown) {
    throw new BenchUsageError((error as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.quick && v.tiny) throw new BenchUsageError('--quick and --tiny exclude each other');
  const size = v.tiny ? 'tiny' : v.quick ? 'quick' : 'full';
  const [command, ...rest] = positionals;
  if (rest.length > 0) throw new BenchUsageError(`unexpected argument ${rest[0]}`);
  if (command === 'outage') {
    if (v.profile) throw new BenchUsageError('--profile belongs to the throughput part, not to outage');
    return {
      command: 'outage',
      burst: v.burst === undefined ? outageSizes[size].burst : count('burst', v.burst),
      downSeconds: v.down === undefined ? outageSizes[size].downSeconds : duration('down', v.down),
      warmUp: outageSizes[size].warmUp,
    };
  }
  if (command !== undefined) throw new BenchUsageError(`unknown case ${command}; expected outage`);
  if (v.burst !== undefined || v.down !== undefined)
    throw new BenchUsageError('--burst and --down belong to the outage case: npm run bench -- outage');
  return { command: 'throughput', sizes: throughputSizes[size], profile: v.profile ?? false };
}

const parse = (argv: readonly string[]) =>
  parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      quick: { type: 'boolean' },
      tiny: { type: 'boolean' },
      profile: { type: 'boolean' },
      burst: { type: 'string' },
      down: { type: 'string' },
    },
  });
