import { mkdir, mkdtemp } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { defaults } from '../../src/defaults.ts';
import type { ThroughputSizes } from '../lib/bench-command.ts';
import type { BenchStack } from './bench-stack.ts';
import { benchType } from './load.ts';
import { type Place, summarizeProfiles } from './profile.ts';
import { type Configuration, type RunResult, runConfiguration, steadyShare } from './run-configuration.ts';
import { runSqlOnly } from './sql-only.ts';

const say = (line: string) => console.error(`[bench] ${line}`);
const fixed = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const thousands = (n: number) => n.toLocaleString('en-US');
const columns = [
  'configuration',
  'window',
  'backlog',
  'msgs/s',
  'worker µs/msg',
  'stack µs/msg',
  'peak RSS MiB',
  'lag p50 ms',
  'lag p99 ms',
];
const widths = [17, 6, 7];
const row = (cells: string[]) =>
  `| ${cells.map((c, i) => (i === 0 ? c.padEnd(17) : c.padStart(widths[i] ?? 13))).join(' | ')} |`;
const ratio = (name: string, value: number, target: string) =>
  console.log(`${name.padEnd(58)} ${fixed(value, 2).padStart(8)}   target ${target}`);

/**
 * The throughput part: the SDK floor and the worker at the same credit window over a backlog long
 * enough for a steady state, then the worker against naive configurations, the lag under a fixed
 * load, and the SQL write path alone; with `profile`, where the worker's CPU time goes.
 */
export async function runThroughput(
  bench: BenchStack,
  options: { sizes: ThroughputSizes; profile: boolean },
): Promise<void> {
  const { sizes } = options;
  const naive = { SERVICEBUS_CONCURRENCY: '1', BATCH_MAX_SIZE: '1' };
  const naiveConcurrent = { SERVICEBUS_CONCURRENCY: '32', BATCH_MAX_SIZE: '1' };
  const worker = { program: 'worker', env: {} } as const;
  const configurations: Configuration[] = [
    { name: 'sdk-floor', program: 'floor', backlog: sizes.equal, env: {}, lagSeconds: 0 },
    { name: 'defaults', ...worker, backlog: sizes.equal, lagSeconds: 0 },
    { name: 'defaults', ...worker, backlog: sizes.small, lagSeconds: sizes.lagSeconds },
    { name: 'naive', ...worker, backlog: sizes.naive, env: naive, lagSeconds: sizes.lagSeconds },
    {
      name: 'naive-concurrent',
      ...worker,
      backlog: sizes.naiveConcurrent,
      env: naiveConcurrent,
      lagSeconds: sizes.lagSeconds,
    },
  ];
  const results: RunResult[] = [];
  for (const c of configurations) {
    say(`${c.name}: ${c.backlog} messages`);
    results.push(await runConfiguration(bench, c));
  }
  say(`SQL write path alone: ${sizes.sqlOnly} events`);
  const sql = await runSqlOnly(bench.pool, sizes.sqlOnly, defaults.batchMaxSize);
  // Kept after the run (.local is not committed): the raw profile opens in Chrome DevTools.
  const local = new URL('../../.local/', import.meta.url).pathname;
  const profileDir = options.profile
    ? await mkdir(local, { recursive: true }).then(() => mkdtemp(join(local, 'profile-')))
    : undefined;
  let profiled: RunResult | undefined;
  try {
    if (profileDir) {
      say(`defaults at ${sizes.equal} under node --cpu-prof (not in the table: profiling slows it)`);
      profiled = await runConfiguration(bench, {
        ...(configurations[1] as Configuration),
        name: 'profiled',
        nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
      });
    }
    const [floor, large, small, naiveRun, concurrentRun] = results as [
      RunResult,
      RunResult,
      RunResult,
      RunResult,
      RunResult,
    ];
    console.log(
      `${new Date().toISOString()}, Node ${process.version}, ${cpus().length} cores; defaults: SERVICEBUS_CONCURRENCY ${defaults.serviceBusConcurrency}, BATCH_MAX_SIZE ${defaults.batchMaxSize}, BATCH_FLUSH_MS ${defaults.batchFlushMs}`,
    );
    printEqualTerms(floor, large);
    console.log('');
    console.log('Every run, over its whole drain:');
    console.log(row(columns));
    console.log(row(columns.map((_, i) => '-'.repeat(i === 0 ? 17 : (widths[i] ?? 13)))));
    for (const r of results) {
      const figures = [r.msgsPerSec, r.workerCpuMicrosPerMsg, r.stackCpuMicrosPerMsg, r.peakRssMiB];
      const lag = [r.lagP50Ms, r.lagP99Ms];
      console.log(
        row([r.name, String(r.window), String(r.backlog), ...[...figures, ...lag].map((f) => fixed(f))]),
      );
    }
    const lagBound = defaults.batchFlushMs + 2 * sql.batchCommitMs;
    console.log('');
    ratio(
      'worker CPU/msg ÷ SDK floor, same window, steady state',
      large.steady.workerCpuMicrosPerMsg / floor.steady.workerCpuMicrosPerMsg,
      '≤ 2',
    );
    ratio(
      `worker CPU/msg, ${large.backlog} ÷ ${small.backlog} messages`,
      large.workerCpuMicrosPerMsg / small.workerCpuMicrosPerMsg,
      '≤ 1.2',
    );
    ratio(
      `peak RSS, ${large.backlog} ÷ ${small.backlog} messages`,
      large.peakRssMiB / small.peakRssMiB,
      '≤ 1.2',
    );
    ratio('msgs/s, defaults ÷ naive', small.msgsPerSec / naiveRun.msgsPerSec, '≥ 30');
    ratio('msgs/s, defaults ÷ naive-concurrent', small.msgsPerSec / concurrentRun.msgsPerSec, '≥ 3');
    // The small backlog's run carries the start's warm-up (JIT, connections); the large one's middle is steady.
    ratio(
      `msgs/s, defaults steady at ${large.backlog} ÷ naive`,
      large.steady.msgsPerSec / naiveRun.msgsPerSec,
      '≥ 30',
    );
    ratio(
      `msgs/s, defaults steady at ${large.backlog} ÷ naive-concurrent`,
      large.steady.msgsPerSec / concurrentRun.msgsPerSec,
      '≥ 3',
    );
    ratio(
      `lag p99 at defaults ÷ (BATCH_FLUSH_MS + 2 commits = ${fixed(lagBound, 1)} ms)`,
      small.lagP99Ms / lagBound,
      '≤ 1',
    );
    console.log('');
    console.log(`SQL write path alone (${sql.events} ${benchType} events, tedious → TDS stand-in → PGlite):`);
    console.log(
      `  batched (${sql.batchSize} per transaction)   ${fixed(sql.batchedRowsPerSec).padStart(8)} rows/s   ${fixed(sql.batchCommitMs, 1)} ms per transaction`,
    );
    console.log(`  one transaction per message      ${fixed(sql.singleRowsPerSec).padStart(8)} rows/s`);
    console.log(
      `  ratio                            ${fixed(sql.batchedRowsPerSec / sql.singleRowsPerSec, 1).padStart(8)} ×`,
    );
    if (profileDir && profiled) await printProfile(profileDir, profiled);
  } finally {
    if (profileDir) say(`the raw .cpuprofile is kept in ${profileDir}`);
  }
}

function printEqualTerms(floor: RunResult, worker: RunResult): void {
  const [from, to] = [steadyShare.from, steadyShare.to].map((s) => thousands(Math.round(s * worker.backlog)));
  console.log(
    `Equal terms, steady state (messages ${from} to ${to} of a ${thousands(worker.backlog)} drain each):`,
  );
  const line = (name: string, r: RunResult, what: string) =>
    console.log(
      `  ${name.padEnd(9)} window ${String(r.window).padStart(4)}  ${fixed(r.steady.msgsPerSec).padStart(6)} msgs/s  ${fixed(r.steady.workerCpuMicrosPerMsg).padStart(5)} µs CPU/msg  (${what}; other processes ${fixed(r.steady.othersShare * 100)} % of the cores)`,
    );
  line('sdk-floor', floor, 'receive + complete only');
  line('worker', worker, 'defaults');
  const cpu = worker.steady.workerCpuMicrosPerMsg / floor.steady.workerCpuMicrosPerMsg;
  const rate = worker.steady.msgsPerSec / floor.steady.msgsPerSec;
  console.log(`  worker ÷ floor: CPU per message ${fixed(cpu, 2)} ×, msgs/s ${fixed(rate, 2)} ×`);
  console.log('  CPU µs/msg by tenth of the drain (warm-up first; the steady part should be flat):');
  for (const [name, r] of [['sdk-floor', floor] as const, ['worker', worker] as const])
    console.log(`  ${name.padEnd(9)} ${r.tenths.map((t) => fixed(t).padStart(5)).join(' ')}`);
}

async function printProfile(dir: string, profiled: RunResult): Promise<void> {
  const summary = await summarizeProfiles(dir, profiled.steady);
  const where = summary.windowed
    ? `the steady part of the drain (${thousands(profiled.steady.messages)} messages)`
    : 'the whole process, start-up included (no sample fell in the steady part)';
  const table = (title: string, places: Place[], top: number) => {
    console.log('');
    console.log(title);
    console.log(`| ${'where'.padEnd(40)} |      ms |   share |`);
    console.log(`| ${'-'.repeat(40)} | ------- | ------- |`);
    for (const p of places.slice(0, top))
      console.log(
        `| ${p.name.padEnd(40)} | ${fixed(p.ms).padStart(7)} | ${fixed(p.share * 100, 1).padStart(5)} % |`,
      );
  };
  console.log('');
  console.log(
    `Worker CPU by self time, node --cpu-prof of defaults at ${thousands(profiled.backlog)}: ${where}, ${fixed(summary.busyMs)} ms busy, ${fixed(profiled.steady.workerCpuMicrosPerMsg)} µs/msg under the profiler.`,
  );
  table('By package (GC, V8 natives and node: modules by name):', summary.byPackage, 20);
  table('By src/ file (the share is of all busy time):', summary.bySrcFile, 15);
  table('By src/ function (file:line function):', summary.bySrcFunction, 15);
}
