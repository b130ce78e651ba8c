import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { defineCommand, formatHelp, parseCommand, parseGroup } from '../../scripts/lib/cli.ts';
import { durationMs, ratePerSec } from '../../scripts/lib/cli-values.ts';
import { confirmBulk } from '../../scripts/lib/confirm.ts';

const copy = defineCommand({
  name: 'copy',
  usage: 'copy <FILE…> [--to DIR] [--force]',
  about: 'Copies files.',
  operands: true,
  flags: {
    to: { type: 'string', value: 'DIR', help: 'where to' },
    force: { type: 'boolean', help: 'overwrites' },
  },
  parse: (v, files) => ({ to: v.to ?? '.', force: v.force === true, files }),
});
const list = defineCommand({
  name: 'tool list',
  usage: 'tool list [--all]',
  about: 'Lists.',
  flags: { all: { type: 'boolean', help: 'everything' } },
  parse: (v) => ({ what: 'list' as const, all: v.all === true }),
});
const remove = defineCommand({
  name: 'tool remove',
  usage: 'tool remove --id ID',
  about: 'Removes.',
  flags: { id: { type: 'string', value: 'ID', help: 'which' } },
  parse: (v) => ({ what: 'remove' as const, id: v.id }),
});
const tool = { name: 'tool', usage: 'tool <list|remove>', about: 'A tool.', commands: { list, remove } };

const failure = (run: () => unknown) => {
  try {
    run();
  } catch (e: unknown) {
    const error = e as Error & { command: string; help: string };
    return { name: error.name, message: error.message, command: error.command, help: error.help };
  }
  throw new Error('no error');
};

describe('the scripts’ command-line layer', () => {
  it('prints a usage line, what the command does and one aligned line per flag, -h/--help last', () => {
    expect(formatHelp(copy)).toBe(
      [
        'usage: copy <FILE…> [--to DIR] [--force]',
        '',
        'Copies files.',
        '',
        '      --to DIR  where to',
        '      --force   overwrites',
        '  -h, --help    prints this help',
      ].join('\n'),
    );
  });

  it('answers -h or --help anywhere with the help, even beside a bad flag', () => {
    expect(parseCommand(copy, ['-h'])).toEqual({ help: formatHelp(copy) });
    expect(parseCommand(copy, ['a', '--nope', '--help'])).toEqual({ help: formatHelp(copy) });
    expect(parseCommand(copy, ['--', '--help'])).toEqual({
      value: { to: '.', force: false, files: ['--help'] },
    });
  });

  it('reads flags in both forms and operands', () => {
    expect(parseCommand(copy, ['a', '--to=out', 'b', '--force'])).toEqual({
      value: { to: 'out', force: true, files: ['a', 'b'] },
    });
    expect(parseCommand(copy, ['--to', 'out'])).toEqual({ value: { to: 'out', force: false, files: [] } });
  });

  it('refuses an unknown flag, a missing value and a value given to a switch, naming the flag', () => {
    expect(failure(() => parseCommand(copy, ['--cout', '5']))).toEqual({
      name: 'UsageError',
      message: 'unknown option --cout',
      command: 'copy',
      help: formatHelp(copy),
    });
    expect(failure(() => parseCommand(copy, ['-x'])).message).toBe('unknown option -x');
    expect(failure(() => parseCommand(copy, ['--to'])).message).toBe('--to needs a value');
    expect(failure(() => parseCommand(copy, ['--to', '--force'])).message).toBe('--to needs a value');
    expect(failure(() => parseCommand(copy, ['--force=yes'])).message).toBe('--force takes no value');
    expect(failure(() => parseCommand(list, ['everything'])).message).toBe('unexpected argument everything');
  });

  it('gives each sub-command only its own flags, and its own help', () => {
    expect(parseGroup(tool, ['list', '--all'])).toEqual({ value: { what: 'list', all: true } });
    expect(parseGroup(tool, ['remove', '--id', '7'])).toEqual({ value: { what: 'remove', id: '7' } });
    expect(failure(() => parseGroup(tool, ['list', '--id', '7']))).toMatchObject({
      message: 'unknown option --id',
      command: 'tool list',
      help: formatHelp(list),
    });
    expect(parseGroup(tool, ['remove', '--help'])).toEqual({ help: formatHelp(remove) });
    const whole = parseGroup(tool, ['--help']) as { help: string };
    expect(whole.help).toContain(formatHelp(list));
    expect(whole.help).toContain(formatHelp(remove));
    expect(failure(() => parseGroup(tool, [])).message).toBe('missing command; expected list or remove');
    expect(failure(() => parseGroup(tool, ['--all', 'list'])).message).toBe(
      'the command comes first; expected list or remove',
    );
    expect(failure(() => parseGroup(tool, ['lst'])).message).toBe(
      'unknown command lst; expected list or remove',
    );
  });

  it('reads one duration format (a plain number is seconds) and one rate format (per second)', () => {
    expect([
      durationMs('d', '20'),
      durationMs('d', '30s'),
      durationMs('d', '10m'),
      durationMs('d', '250ms'),
    ]).toEqual([20_000, 30_000, 600_000, 250]);
    expect(durationMs('d', '1.5h')).toBe(5_400_000);
    expect(failure(() => durationMs('wait', 'soon')).message).toBe(
      '--wait must be a duration such as 30s, 10m or 20 (seconds), got soon',
    );
    expect([ratePerSec('r', '50'), ratePerSec('r', '50/s'), ratePerSec('r', '600/m')]).toEqual([50, 50, 10]);
    expect(failure(() => ratePerSec('rate', '0')).message).toContain('--rate must be a positive rate');
  });
});

describe('a bulk change', () => {
  const terminal = (answer: string) => {
    const input = Object.assign(new PassThrough(), { isTTY: true });
    const output = new PassThrough();
    let asked = '';
    output.on('data', (d: Buffer) => {
      asked += d.toString();
    });
    setImmediate(() => input.write(`${answer}\n`));
    return { input, output, asked: () => asked };
  };

  it('asks on a terminal and goes ahead only on yes', async () => {
    const yes = terminal('y');
    expect(await confirmBulk({ what: 'replay every dead letter', yes: false, ...yes })).toBe('yes');
    expect(yes.asked()).toBe('replay every dead letter? [y/N] ');
    expect(await confirmBulk({ what: 'x', yes: false, ...terminal('') })).toBe('no');
    expect(await confirmBulk({ what: 'x', yes: false, ...terminal('nope') })).toBe('no');
  });

  it('needs --yes where nobody can be asked, and --yes asks nothing', async () => {
    const pipe = Object.assign(new PassThrough(), { isTTY: false });
    expect(await confirmBulk({ what: 'x', yes: false, input: pipe })).toBe('needs-yes');
    expect(await confirmBulk({ what: 'x', yes: true, input: pipe })).toBe('yes');
  });
});
