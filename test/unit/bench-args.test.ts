import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../scripts/bench/args.ts';

const error = (argv: string[]): string => {
  try {
    parseBenchArgs(argv);
  } catch (e: unknown) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
  throw new Error('parsed');
};

describe('npm run bench arguments', () => {
  it('runs the throughput part at full size without arguments, with the equal-terms backlog long enough for a steady state', () => {
    const args = parseBenchArgs([]);
    expect(args).toMatchObject({ command: 'throughput', profile: false });
    expect(args.command === 'throughput' && args.sizes.equal).toBe(50_000);
  });

  it('shortens everything with --quick but the equal-terms drain, which must outlast the warm-up', () => {
    const sizes = (argv: string[]) => {
      const a = parseBenchArgs(argv);
      if (a.command !== 'throughput') throw new Error('not the throughput part');
      return a.sizes;
    };
    expect(sizes(['--quick']).equal).toBe(sizes([]).equal);
    expect(sizes(['--quick']).small).toBeLessThan(sizes([]).small);
    expect(sizes(['--quick']).naiveConcurrent).toBeLessThan(sizes([]).naiveConcurrent);
    expect(sizes(['--tiny']).equal).toBeLessThan(sizes(['--quick']).equal);
    expect(parseBenchArgs(['--quick', '--profile'])).toMatchObject({ profile: true });
  });

  it('reads the outage case with its burst and a duration in seconds or minutes', () => {
    expect(parseBenchArgs(['outage'])).toEqual({
      command: 'outage',
      burst: 5_000,
      downSeconds: 20,
      warmUp: 20_000,
    });
    expect(parseBenchArgs(['outage', '--burst', '300', '--down', '2m'])).toEqual({
      command: 'outage',
      burst: 300,
      downSeconds: 120,
      warmUp: 20_000,
    });
    expect(parseBenchArgs(['outage', '--tiny', '--down', '5'])).toEqual({
      command: 'outage',
      burst: 200,
      downSeconds: 5,
      warmUp: 200,
    });
  });

  it('names the bad flag or value in one line', () => {
    expect(error(['--cout'])).toMatch(/^BenchUsageError: .*--cout/);
    expect(error(['outage', '--burst', '0'])).toBe('BenchUsageError: --burst must be a whole number above 0');
    expect(error(['outage', '--down', 'soon'])).toBe(
      'BenchUsageError: --down must be a duration such as 20s or 2m',
    );
    expect(error(['--burst', '10'])).toMatch(/belong to the outage case/);
    expect(error(['outage', '--profile'])).toMatch(/--profile belongs to the throughput part/);
    expect(error(['lag'])).toBe('BenchUsageError: unknown case lag; expected outage');
    expect(error(['--quick', '--tiny'])).toMatch(/exclude each other/);
  });
});
