import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { defaults } from '../../src/defaults.ts';
import type { BenchStack } from './bench-stack.ts';
import { lagOf, lagSummary, offerLoad, publishBacklog } from './load.ts';
import {
  type Disturbance,
  othersShare,
  ownCpuMicros,
  peakRssMiB,
  processCpuMicros,
  readDisturbance,
} from './proc.ts';

const root = new URL('../..', import.meta.url).pathname;

export type Configuration = {
  name: string;
  /** What runs: the worker (`src/main.ts`) or the SDK floor. */
  program: 'worker' | 'floor';
  backlog: number;
  /** Settings on top of the local stack's, e.g. SERVICEBUS_CONCURRENCY. */
  env: Record<string, string>;
  /** Seconds of fixed offered load (half the measured rate) for the lag figures; 0 skips them. */
  lagSeconds: number;
  /** Extra node flags, e.g. `--cpu-prof` for the profile by package or `--trace-gc`. */
  nodeFlags?: string[];
  /** Told every line the program prints (diagnostics such as `--trace-gc`). */
  onLine?: (line: string) => void;
};

/** Figures over the steady part of a drain: from `steadyShare.from` to `steadyShare.to` of the backlog completed. */
export type SteadyFigures = {
  messages: number;
  msgsPerSec: number;
  workerCpuMicrosPerMsg: number;
  stackCpuMicrosPerMsg: number;
  /** Share of the machine's cores other processes used meanwhile: high means a disturbed figure. */
  othersShare: number;
  /** Its bounds on the monotonic clock in µs, the clock of a `.cpuprofile`'s timestamps. */
  fromMonoMicros: number;
  toMonoMicros: number;
};

export type RunResult = {
  name: string;
  backlog: number;
  /** The credit window the program ran with (SERVICEBUS_CONCURRENCY). */
  window: number;
  msgsPerSec: number;
  workerCpuMicrosPerMsg: number;
  stackCpuMicrosPerMsg: number;
  peakRssMiB: number;
  lagP50Ms: number;
  lagP99Ms: number;
  steady: SteadyFigures;
  /** Worker CPU µs/msg in each tenth of the drain: shows the warm-up and whether the rest is flat. */
  tenths: number[];
};

/**
 * The steady part of a drain, in whole tenths. The CPU per message of both programs falls for their
 * first 25,000-30,000 messages (JIT tiers, V8 sizing its young generation, the stand-in warming up
 * too) and is flat after that to the end of the drain, with no tail; so of a 50,000 drain the last
 * 40 % counts. Both programs are cut at the same shares of the same backlog.
 */
export const steadyShare = { from: 0.6, to: 1 } as const;

type Sample = {
  completed: number;
  cpu: number;
  stackCpu: number;
  ms: number;
  monoMicros: number;
  disturbance: Disturbance;
};

const steadyOf = (a: Sample, b: Sample): SteadyFigures => {
  const messages = b.completed - a.completed;
  return {
    messages,
    msgsPerSec: messages / ((b.ms - a.ms) / 1000),
    workerCpuMicrosPerMsg: (b.cpu - a.cpu) / messages,
    stackCpuMicrosPerMsg: (b.stackCpu - a.stackCpu) / messages,
    othersShare: othersShare(a.disturbance, b.disturbance),
    fromMonoMicros: a.monoMicros,
    toMonoMicros: b.monoMicros,
  };
};

const programs = { worker: 'src/main.ts', floor: 'scripts/bench/floor-receiver.ts' } as const;

/** Starts the program as its own process; resolves once it logs `worker running`. */
export function startProgram(
  c: Pick<Configuration, 'name' | 'program' | 'nodeFlags' | 'onLine'>,
  env: Record<string, string>,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...(c.nodeFlags ?? []), programs[c.program]], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    // Read every line, also after the start: a full pipe would stall the worker's logging.
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      c.onLine?.(line);
      if (output.length < 20_000) output += `${line}\n`;
      if (line.includes('"msg":"worker running"')) resolve(child);
    });
    child.stderr?.on('data', (d: Buffer) => {
      if (output.length < 20_000) output += d.toString();
    });
    child.once('exit', (code) => reject(new Error(`${c.name}: exited ${code} before running:\n${output}`)));
  });
}

export const until = async (check: () => boolean, what: string, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not done within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

/**
 * One configuration as a user meets it: a backlog published first, then the program started as
 * its own process and timed from its start until the broker has every message completed; then,
 * when asked, a fixed load of half that rate for the lag figures.
 */
export async function runConfiguration(bench: BenchStack, c: Configuration): Promise<RunResult> {
  const queue = bench.newQueue(`bench-${c.name}-${c.backlog}`);
  const sender = bench.publisher.createSender(queue);
  const completed = () => bench.stack.serviceBus.completedMessageIds(queue).length;
  try {
    await publishBacklog(sender, c.backlog);
    // The window is set for both programs alike, so that the floor never runs at another one.
    const env = {
      ...bench.env,
      SERVICEBUS_QUEUE: queue,
      SERVICEBUS_CONCURRENCY: String(defaults.serviceBusConcurrency),
      ...c.env,
    };
    const child = await startProgram(c, env);
    const exited = new Promise((r) => child.once('exit', r));
    const pid = child.pid as number;
    try {
      const sample = (): Sample => ({
        completed: completed(),
        cpu: processCpuMicros(pid),
        stackCpu: ownCpuMicros(),
        ms: performance.now(),
        monoMicros: Number(process.hrtime.bigint() / 1000n),
        disturbance: readDisturbance(),
      });
      const start = sample();
      const bounds = Array.from({ length: 9 }, (_, i) => Math.round(((i + 1) / 10) * c.backlog));
      const marks: Sample[] = [start];
      await until(
        () => {
          const done = completed();
          if (marks.length <= bounds.length && done >= (bounds[marks.length - 1] as number))
            marks.push(sample());
          return done >= c.backlog;
        },
        `${c.name}: draining ${c.backlog}`,
        900_000,
      );
      const end = sample();
      marks.push(end);
      const at = (share: number) => marks[Math.round(share * 10)] ?? end;
      const messages = c.backlog - start.completed;
      const result: RunResult = {
        name: c.name,
        backlog: c.backlog,
        window: Number(env.SERVICEBUS_CONCURRENCY),
        msgsPerSec: messages / ((end.ms - start.ms) / 1000),
        workerCpuMicrosPerMsg: (end.cpu - start.cpu) / messages,
        stackCpuMicrosPerMsg: (end.stackCpu - start.stackCpu) / messages,
        peakRssMiB: peakRssMiB(pid),
        lagP50Ms: Number.NaN,
        lagP99Ms: Number.NaN,
        steady: steadyOf(at(steadyShare.from), at(steadyShare.to)),
        tenths: marks.slice(1).map((m, i) => steadyOf(marks[i] as Sample, m).workerCpuMicrosPerMsg),
      };
      // The floor writes nothing to SQL, so it has no commit to measure a lag to.
      if (c.lagSeconds > 0 && c.program === 'worker') {
        const source = `/bench/lag/${queue}`;
        const sent = await offerLoad(sender, {
          perSecond: Math.max(1, result.msgsPerSec / 2),
          seconds: c.lagSeconds,
          source,
        });
        await until(() => completed() >= c.backlog + sent, `${c.name}: lag load`, 120_000);
        const lag = lagSummary(await lagOf(bench.pool, source));
        result.lagP50Ms = lag.p50;
        result.lagP99Ms = lag.p99;
      }
      return result;
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  } finally {
    await sender.close();
  }
}
