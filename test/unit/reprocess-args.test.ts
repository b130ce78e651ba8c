import { describe, expect, it } from 'vitest';
import { parseGroup } from '../../scripts/lib/cli.ts';
import { reprocessCommands } from '../../scripts/lib/reprocess-command.ts';
import { createProgressPrinter, exitCodeOf, formatSummary } from '../../src/reprocess/report.ts';

const parseReprocessArgs = (argv: string[]) => {
  const parsed = parseGroup(reprocessCommands, argv);
  if ('help' in parsed) throw new Error('help');
  return parsed.value;
};

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
      json: false,
      yes: false,
      bulk: undefined,
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

  it('reads one duration format and one rate format: a plain number is seconds, or per second', () => {
    const window = (w: string) => parseReprocessArgs(['dlq', '--duplicate-window', w]);
    expect(window('90')).toMatchObject({ duplicateWindowMs: 90_000 });
    expect(window('2m')).toMatchObject({ duplicateWindowMs: 120_000 });
    expect(window('0')).toMatchObject({ duplicateWindowMs: 0 });
    expect(parseReprocessArgs(['inbox', '--rate', '20', '--type', 't'])).toMatchObject({ ratePerSec: 20 });
    expect(parseReprocessArgs(['inbox', '--rate', '600/m', '--type', 't'])).toMatchObject({ ratePerSec: 10 });
  });

  it('marks a change to everything as one that asks first, unless a filter narrows it or it is a dry run', () => {
    expect(parseReprocessArgs(['dlq']).bulk).toBe('replay every dead letter');
    expect(parseReprocessArgs(['dlq', '--purge']).bulk).toBe('delete every dead letter');
    expect(parseReprocessArgs(['dlq', '--purge', '--reason', 'InvalidJson']).bulk).toBeUndefined();
    expect(parseReprocessArgs(['dlq', '--dry-run']).bulk).toBeUndefined();
    expect(parseReprocessArgs(['retries', '--give-up']).bulk).toBe('give up every waiting retry');
    expect(parseReprocessArgs(['retries', '--give-up', '--message-id', 'm1']).bulk).toBeUndefined();
    expect(parseReprocessArgs(['retries', '--list']).bulk).toBeUndefined();
    expect(parseReprocessArgs(['inbox']).bulk).toBe('re-apply every stored event');
    expect(parseReprocessArgs(['inbox', '--after', 'm1']).bulk).toBeUndefined();
  });

  it('refuses a flag of another sub-command instead of ignoring it', () => {
    expect(error(['dlq', '--list'])).toBe('unknown option --list');
    expect(error(['inbox', '--purge'])).toBe('unknown option --purge');
    expect(error(['retries', '--list', '--reason', 'x'])).toBe('unknown option --reason');
  });

  it('refuses what it cannot read, naming the option', () => {
    expect(error(['dlq', '--since', 'yesterday'])).toBe(
      '--since must be a date and time (ISO 8601), got yesterday',
    );
    expect(error(['inbox', '--max', '0'])).toBe('--max must be a positive integer, got 0');
    expect(error(['inbox', '--rate', 'fast'])).toContain('--rate must be a positive rate');
    expect(error(['retries'])).toBe('retries needs exactly one of --list, --retry, --give-up');
    expect(error(['retries', '--list', '--give-up'])).toBe(
      'retries needs exactly one of --list, --retry, --give-up',
    );
    expect(error(['dlq', '--duplicate-window', 'ten'])).toContain('--duplicate-window must be a duration');
    expect(error([])).toBe('missing command; expected dlq, retries or inbox');
    expect(error(['replay'])).toBe('unknown command replay; expected dlq, retries or inbox');
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
