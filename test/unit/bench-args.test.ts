import { describe, expect, it } from 'vitest';
import { type BenchArgs, benchCommand } from '../../scripts/lib/bench-command.ts';
import { parseCommand } from '../../scripts/lib/cli.ts';

const parse = (argv: string[]): BenchArgs => {
  const parsed = parseCommand(benchCommand, argv);
  if ('help' in parsed) throw new Error('help');
  return parsed.value;
};
const error = (argv: string[]): string => {
  try {
    parse(argv);
  } catch (e: unknown) {
    return (e as Error).message;
  }
  throw new Error('parsed');
};
const sizes = (argv: string[]) => {
  const a = parse(argv);
  if (a.command !== 'throughput') throw new Error('not the throughput part');
  return a.sizes;
};

describe('npm run bench arguments', () => {
  it('runs the throughput part at full size without arguments, with the equal-terms backlog long enough for a steady state', () => {
    expect(parse([])).toMatchObject({ command: 'throughput', profile: false });
    expect(sizes([]).equal).toBe(50_000);
  });

  it('shortens everything with --quick but the equal-terms drain, which must outlast the warm-up', () => {
    expect(sizes(['--quick']).equal).toBe(sizes([]).equal);
    expect(sizes(['--quick']).small).toBeLessThan(sizes([]).small);
    expect(sizes(['--quick']).naiveConcurrent).toBeLessThan(sizes([]).naiveConcurrent);
    expect(sizes(['--tiny']).equal).toBeLessThan(sizes(['--quick']).equal);
    expect(parse(['--quick', '--profile'])).toMatchObject({ profile: true });
  });

  it('reads the outage case with its burst and a duration in seconds or minutes', () => {
    expect(parse(['--outage'])).toEqual({
      command: 'outage',
      burst: 5_000,
      downSeconds: 20,
      warmUp: 20_000,
      retryPath: false,
    });
    expect(parse(['--outage', '--retry-path'])).toMatchObject({ command: 'outage', retryPath: true });
    expect(parse(['--outage', '--burst', '300', '--down', '2m'])).toEqual({
      command: 'outage',
      burst: 300,
      downSeconds: 120,
      warmUp: 20_000,
      retryPath: false,
    });
    expect(parse(['--outage', '--tiny', '--down', '5'])).toEqual({
      command: 'outage',
      burst: 200,
      downSeconds: 5,
      warmUp: 200,
      retryPath: false,
    });
  });

  it('names the bad flag or value in one line', () => {
    expect(error(['--outage', '--burst', '0'])).toBe('--burst must be a positive integer, got 0');
    expect(error(['--outage', '--down', 'soon'])).toMatch(/^--down must be a duration such as 30s/);
    expect(error(['--burst', '10'])).toBe('--burst, --down and --retry-path go with --outage');
    expect(error(['--retry-path'])).toBe('--burst, --down and --retry-path go with --outage');
    expect(error(['--outage', '--profile'])).toMatch(/--profile goes with the throughput part/);
    expect(error(['--quick', '--tiny'])).toBe('give --quick or --tiny, not both');
  });
});
