import { describe, expect, it } from 'vitest';
import { parseReprocessArgs } from '../../src/reprocess/args.ts';
import { createProgressPrinter, exitCodeOf, formatSummary } from '../../src/reprocess/report.ts';

const error = (argv: string[]): string => {
  try {
    parseReprocessArgs(argv);
  } catch (e: unknown) {
    return (e as Error).message;
  }
  throw new Error('parsed');
};

describe('npm run reprocess arguments', () => {
  it('reads the dlq filters, the common options and the duplicate window', () => {
    expect(
      parseReprocessArgs([
        'dlq',
        '--reason',
        'ValidationFailed',
        '--since',
        '2026-11-30T00:00:00Z',
        '--max',
        '10',
        '--rate',
        '50/s',
        '--duplicate-window',
        '30s',
        '--dry-run',
      ]),
    ).toEqual({
      what: 'dlq',
      action: 'replay',
      dryRun: true,
      max: 10,
      ratePerSec: 50,
      duplicateWindowMs: 30_000,
      filter: {
        reason: 'ValidationFailed',
        type: undefined,
        since: new Date('2026-11-30T00:00:00Z'),
        until: undefined,
        messageId: undefined,
      },
    });
    expect(parseReprocessArgs(['dlq', '--purge'])).toMatchObject({
      action: 'purge',
      duplicateWindowMs: 600_000,
    });
  });

  it('refuses what it cannot read, naming the option', () => {
    expect(error(['dlq', '--since', 'yesterday'])).toBe(
      '--since must be a date and time (ISO 8601), got yesterday',
    );
    expect(error(['inbox', '--max', '0'])).toBe('--max must be a positive integer');
    expect(error(['inbox', '--rate', 'fast'])).toContain('--rate must be a positive number');
    expect(error(['retries'])).toBe('retries needs exactly one of --list, --retry, --give-up');
    expect(error(['retries', '--list', '--give-up'])).toBe(
      'retries needs exactly one of --list, --retry, --give-up',
    );
    expect(error(['dlq', '--duplicate-window', 'ten'])).toContain('--duplicate-window must be a duration');
    expect(error([])).toBe('unknown sub-command (none); expected dlq, retries or inbox');
  });

  it('draws a bar on a terminal and plain lines elsewhere, and ends with a summary and an exit code', () => {
    const plain: string[] = [];
    const print = createProgressPrinter({ write: (s: string) => plain.push(s) !== 0 }, 2);
    for (let done = 1; done <= 3; done++) print({ done, total: 3, counts: { replayed: done } });
    expect(plain).toEqual(['2/3: replayed 2\n', '3/3: replayed 3\n']);
    const tty: string[] = [];
    createProgressPrinter({ isTTY: true, write: (s: string) => tty.push(s) !== 0 })({
      done: 1,
      total: 2,
      counts: { replayed: 1 },
    });
    expect(tty[0]).toBe(`\r[${'#'.repeat(15)}${'.'.repeat(15)}] 1/2  replayed 1`);
    const failed = {
      dryRun: false,
      counts: { replayed: 2, failed: 1 },
      failures: [{ id: 'a', error: 'x' }],
      interrupted: false,
    };
    expect(formatSummary('dlq', failed)).toBe('dlq: failed 1, replayed 2');
    expect(exitCodeOf(failed)).toBe(1);
    expect(exitCodeOf({ ...failed, failures: [], interrupted: true })).toBe(130);
    expect(exitCodeOf({ ...failed, failures: [] })).toBe(0);
  });
});
