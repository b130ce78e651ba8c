// npm run bench [-- --quick | --tiny] [--profile]    npm run bench -- --outage [--burst N] [--down 20s]
// The pipeline as a user runs it: the local stack in this process, a backlog published first, then
// `src/main.ts` as its own process, per configuration; the SDK floor (the same SDK and credit
// window, receive + complete only) in the same run; the ratios against the targets; the SQL write
// path alone. `--outage`: a burst drained clean and through a database outage. Prints figures;
// asserts nothing. docs/benchmarks.md explains the figures.

import { startBenchStack } from './bench/bench-stack.ts';
import { runOutage } from './bench/outage.ts';
import { runThroughput } from './bench/throughput.ts';
import { benchCommand } from './lib/bench-command.ts';
import { runCommand } from './lib/cli.ts';

const args = runCommand(benchCommand);
const bench = await startBenchStack();
try {
  if (args.command === 'outage') await runOutage(bench, args);
  else await runThroughput(bench, args);
} finally {
  await bench.close();
}
