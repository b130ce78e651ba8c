// npm run bench [-- --quick | --tiny] [--profile]
// The pipeline as a user runs it: the local stack in this process, a backlog published first, then
// `src/main.ts` as its own process, per configuration; the SDK floor (the same SDK and credit
// window, receive + complete only) in the same run; the ratios against the targets; the SQL write
// path alone. Prints figures; asserts nothing. docs/benchmarks.md explains the figures.
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaults } from '../src/defaults.ts';
import { startBenchStack } from './bench/bench-stack.ts';
import { profileByPackage } from './bench/profile.ts';
import { type Configuration, type RunResult, runConfiguration } from './bench/run-configuration.ts';
import { runSqlOnly } from './bench/sql-only.ts';
import { benchCommand } from './lib/bench-command.ts';
import { runCommand } from './lib/cli.ts';

const args = runCommand(benchCommand);
// Backlog sizes: full (at most 10 min on 2 cores), --quick (about a minute), --tiny (the test's).
const sizes = args.tiny
  ? { small: 200, large: 400, naive: 20, naiveConcurrent: 60, lagSeconds: 1, sqlOnly: 200 }
  : args.quick
    ? { small: 2_000, large: 10_000, naive: 200, naiveConcurrent: 1_000, lagSeconds: 3, sqlOnly: 1_000 }
    : { small: 5_000, large: 100_000, naive: 1_000, naiveConcurrent: 3_000, lagSeconds: 10, sqlOnly: 2_000 };

const naive = { SERVICEBUS_CONCURRENCY: '1', BATCH_MAX_SIZE: '1' };
const naiveConcurrent = { SERVICEBUS_CONCURRENCY: '32', BATCH_MAX_SIZE: '1' };
const configurations: Configuration[] = [
  { name: 'sdk-floor', program: 'floor', backlog: sizes.small, env: {}, lagSeconds: 0 },
  { name: 'defaults', program: 'worker', backlog: sizes.small, env: {}, lagSeconds: sizes.lagSeconds },
  { name: 'naive', program: 'worker', backlog: sizes.naive, env: naive, lagSeconds: sizes.lagSeconds },
  {
    name: 'naive-concurrent',
    program: 'worker',
    backlog: sizes.naiveConcurrent,
    env: naiveConcurrent,
    lagSeconds: sizes.lagSeconds,
  },
  { name: 'defaults', program: 'worker', backlog: sizes.large, env: {}, lagSeconds: 0 },
];

const say = (line: string) => console.error(`[bench] ${line}`);
const fixed = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const columns = [
  'configuration',
  'backlog',
  'msgs/s',
  'worker µs/msg',
  'stack µs/msg',
  'peak RSS MiB',
  'lag p50 ms',
  'lag p99 ms',
];
const row = (cells: string[]) =>
  `| ${cells.map((c, i) => (i === 0 ? c.padEnd(17) : c.padStart(i === 1 ? 7 : 13))).join(' | ')} |`;

const bench = await startBenchStack();
const profileDir = args.profile ? await mkdtemp(join(tmpdir(), 'keyless-profile-')) : undefined;
try {
  const results: RunResult[] = [];
  for (const c of configurations) {
    say(`${c.name}: ${c.backlog} messages`);
    results.push(await runConfiguration(bench, c));
  }
  say(`SQL write path alone: ${sizes.sqlOnly} events`);
  const sql = await runSqlOnly(bench.pool, sizes.sqlOnly, defaults.batchMaxSize);
  if (profileDir) {
    say('defaults under node --cpu-prof (not in the table: profiling slows it)');
    await runConfiguration(bench, {
      ...(configurations[1] as Configuration),
      name: 'profiled',
      nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
    });
  }

  const [floor, small, naiveRun, concurrentRun, large] = results as [
    RunResult,
    RunResult,
    RunResult,
    RunResult,
    RunResult,
  ];
  console.log(
    `${new Date().toISOString()}, Node ${process.version}, ${cpus().length} cores; defaults: SERVICEBUS_CONCURRENCY ${defaults.serviceBusConcurrency}, BATCH_MAX_SIZE ${defaults.batchMaxSize}, BATCH_FLUSH_MS ${defaults.batchFlushMs}`,
  );
  console.log(row(columns));
  console.log(row(columns.map((_, i) => (i === 0 ? '-'.repeat(17) : '-'.repeat(i === 1 ? 7 : 13)))));
  for (const r of results) {
    console.log(
      row([
        r.name,
        String(r.backlog),
        fixed(r.msgsPerSec),
        fixed(r.workerCpuMicrosPerMsg),
        fixed(r.stackCpuMicrosPerMsg),
        fixed(r.peakRssMiB),
        fixed(r.lagP50Ms),
        fixed(r.lagP99Ms),
      ]),
    );
  }
  const lagBound = defaults.batchFlushMs + 2 * sql.batchCommitMs;
  const ratio = (name: string, value: number, target: string) =>
    console.log(`${name.padEnd(58)} ${fixed(value, 2).padStart(8)}   target ${target}`);
  console.log('');
  ratio(
    'worker CPU/msg, defaults ÷ SDK floor',
    small.workerCpuMicrosPerMsg / floor.workerCpuMicrosPerMsg,
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
  // The small backlog's run carries the start's warm-up (JIT, connections); the large one is steady.
  ratio(`msgs/s, defaults at ${large.backlog} ÷ naive`, large.msgsPerSec / naiveRun.msgsPerSec, '≥ 30');
  ratio(
    `msgs/s, defaults at ${large.backlog} ÷ naive-concurrent`,
    large.msgsPerSec / concurrentRun.msgsPerSec,
    '≥ 3',
  );
  ratio(
    `lag p99 at defaults ÷ (BATCH_FLUSH_MS + 2 commits = ${fixed(lagBound, 1)} ms)`,
    small.lagP99Ms / lagBound,
    '≤ 1',
  );
  console.log('');
  console.log(`SQL write path alone (${sql.events} order.placed events, tedious → TDS stand-in → PGlite):`);
  console.log(
    `  batched (${sql.batchSize} per transaction)   ${fixed(sql.batchedRowsPerSec).padStart(8)} rows/s   ${fixed(sql.batchCommitMs, 1)} ms per transaction`,
  );
  console.log(`  one transaction per message      ${fixed(sql.singleRowsPerSec).padStart(8)} rows/s`);
  console.log(
    `  ratio                            ${fixed(sql.batchedRowsPerSec / sql.singleRowsPerSec, 1).padStart(8)} ×`,
  );
  if (profileDir) {
    console.log('');
    console.log('worker CPU by package (self time, defaults run, node --cpu-prof):');
    for (const p of (await profileByPackage(profileDir)).slice(0, 15)) {
      console.log(
        `  ${p.name.padEnd(40)} ${fixed(p.ms).padStart(7)} ms  ${fixed(p.share * 100, 1).padStart(5)} %`,
      );
    }
  }
} finally {
  await bench.close();
  if (profileDir) await rm(profileDir, { recursive: true, force: true });
}
