import { defineCommand, usageError } from './cli.ts';

/** `npm run bench` flags, apart from the bench itself so that its measurement code stays its own. */
export const benchCommand = defineCommand({
  name: 'bench',
  usage: 'npm run bench -- [--quick | --tiny] [--profile]',
  about:
    'The pipeline as a user runs it, per configuration, beside the SDK floor, and the SQL write path\n' +
    'alone; prints figures and the ratios against the targets (docs/benchmarks.md). At most 10 min on\n' +
    '2 cores.',
  flags: {
    quick: { type: 'boolean', help: 'smaller backlogs: about a minute' },
    tiny: { type: 'boolean', help: "the test's backlogs: seconds, figures not meaningful" },
    profile: { type: 'boolean', help: "adds the worker's CPU by package (node --cpu-prof)" },
  },
  parse: (v) => (v.quick && v.tiny ? usageError('give --quick or --tiny, not both') : v),
});
