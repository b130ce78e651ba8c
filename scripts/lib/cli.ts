// The command-line layer of every script: a thin wrapper over node:util parseArgs rather than
// commander or citty. parseArgs already splits the arguments; what the scripts need on top of it
// (usage printed from one description, -h/--help, one line naming a bad flag then the usage with
// exit 2, sub-commands that each accept only their own flags) is this file, and the scripts that
// ship in the image (migrate, doctor, publish, reprocess, sql) gain no dependency.
import { parseArgs } from 'node:util';

export type Flag = {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** How the value is shown in the usage: `N`, `ISO`, `10m`. String flags only. */
  readonly value?: string;
  readonly help: string;
};
export type Flags = Readonly<Record<string, Flag>>;

/** What was given: a boolean flag is true when present, a string flag holds its value. */
export type Values<F extends Flags> = {
  readonly [K in keyof F]?: F[K]['type'] extends 'boolean' ? boolean : string;
};

export type Command<F extends Flags, T> = {
  /** How errors name it: `publish`, `reprocess dlq`. */
  readonly name: string;
  /** The usage line, after `usage: `. */
  readonly usage: string;
  /** What it does, in a few lines. */
  readonly about: string;
  readonly flags: F;
  /** Takes operands (the statement of `sql`); without this, an operand is refused. */
  readonly operands?: boolean;
  /** The flags as what the script runs; throws a UsageError naming a bad value. */
  parse(values: Values<F>, operands: string[]): T;
};

/** A script of sub-commands (`reprocess dlq|retries|inbox`), each with only its own flags. */
export type Group<C extends Record<string, Command<Flags, unknown>>> = {
  readonly name: string;
  readonly usage: string;
  readonly about: string;
  readonly commands: C;
};

type ResultOf<C extends Record<string, Command<Flags, unknown>>> = {
  [K in keyof C]: C[K] extends Command<Flags, infer T> ? T : never;
}[keyof C];

/** A bad flag, value or operand: the message names it. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'BadArgument' as const;
  /** The command the error is about, and its help; set by the parser. */
  command = '';
  help = '';
}

export const usageError = (message: string): never => {
  throw new UsageError(message);
};

/** Keeps the flags' literal types, so that `parse` sees which are booleans. */
export const defineCommand = <const F extends Flags, T>(command: Command<F, T>): Command<F, T> => command;

const helpFlag: Flag = { type: 'boolean', short: 'h', help: 'prints this help' };

/** The help of a command: its usage line, what it does, then one line per flag. */
export function formatHelp(command: Command<Flags, unknown>): string {
  const rows = Object.entries({ ...command.flags, help: helpFlag }).map(([name, f]) => [
    `${f.short ? `-${f.short}, ` : '    '}--${name}${f.value ? ` ${f.value}` : ''}`,
    f.help,
  ]);
  const width = Math.max(...rows.map(([left]) => (left as string).length));
  return [
    `usage: ${command.usage}`,
    '',
    command.about,
    '',
    ...rows.map(([left, help]) => `  ${(left as string).padEnd(width)}  ${help}`),
  ].join('\n');
}

/** The help of a group: its usage line and what it does, then the help of each sub-command. */
export const formatGroupHelp = (group: Group<Record<string, Command<Flags, unknown>>>): string =>
  [
    `usage: ${group.usage}`,
    '',
    group.about,
    ...Object.values(group.commands).map((c) => `\n${formatHelp(c)}`),
  ].join('\n');

export type Parsed<T> = { help: string } | { value: T };

const withContext = (error: unknown, name: string, help: string): unknown => {
  if (error instanceof UsageError && !error.command) {
    error.command = name;
    error.help = help;
  }
  return error;
};

/** The arguments of `command`: its help when asked for, else what `parse` makes of them. */
export function parseCommand<F extends Flags, T>(command: Command<F, T>, argv: readonly string[]): Parsed<T> {
  const flags: Flags = { ...command.flags, help: helpFlag };
  const help = formatHelp(command);
  try {
    const { tokens } = parseArgs({
      args: [...argv],
      options: Object.fromEntries(
        Object.entries(flags).map(([n, f]) => [
          n,
          f.short ? { type: f.type, short: f.short } : { type: f.type },
        ]),
      ),
      strict: false,
      allowPositionals: true,
      tokens: true,
    });
    if (tokens.some((t) => t.kind === 'option' && t.name === 'help')) return { help };
    const values: Record<string, string | boolean> = {};
    const operands: string[] = [];
    for (const t of tokens) {
      if (t.kind === 'positional') {
        if (!command.operands) usageError(`unexpected argument ${t.value}`);
        operands.push(t.value);
      }
      if (t.kind !== 'option') continue;
      const flag = flags[t.name];
      if (!flag) return usageError(`unknown option ${t.rawName}`);
      if (flag.type === 'boolean') {
        if (t.value !== undefined) usageError(`${t.rawName} takes no value`);
        values[t.name] = true;
      } else {
        // parseArgs takes the next argument as the value even when it is the next flag.
        if (t.value === undefined || (!t.inlineValue && /^--?[a-z]/i.test(t.value)))
          usageError(`${t.rawName} needs a value`);
        values[t.name] = t.value as string;
      }
    }
    return { value: command.parse(values as Values<F>, operands) };
  } catch (error: unknown) {
    throw withContext(error, command.name, help);
  }
}

/** The arguments of a group: the sub-command comes first, then only its own flags. */
export function parseGroup<C extends Record<string, Command<Flags, unknown>>>(
  group: Group<C>,
  argv: readonly string[],
): Parsed<ResultOf<C>> {
  const [first, ...rest] = argv;
  const help = formatGroupHelp(group);
  if (first === '-h' || first === '--help') return { help };
  const names = Object.keys(group.commands);
  const command = first === undefined ? undefined : group.commands[first];
  if (!command) {
    const expected = `expected ${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
    const message =
      first === undefined
        ? `missing command; ${expected}`
        : first.startsWith('-')
          ? `the command comes first; ${expected}`
          : `unknown command ${first}; ${expected}`;
    throw withContext(new UsageError(message), group.name, help);
  }
  return parseCommand(command, rest) as Parsed<ResultOf<C>>;
}

/**
 * Runs a parse as a script does: the help on stdout with exit 0; a usage error as one line naming
 * what is wrong, then the usage, on stderr with exit 2. Anything else is not a usage error and is thrown.
 */
export function runParse<T>(parse: () => Parsed<T>): T {
  let parsed: Parsed<T>;
  try {
    parsed = parse();
  } catch (error: unknown) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.command}: ${error.message}\n\n${error.help}\n`);
    process.exit(2);
  }
  if ('help' in parsed) {
    process.stdout.write(`${parsed.help}\n`);
    process.exit(0);
  }
  return parsed.value;
}

export const runCommand = <F extends Flags, T>(command: Command<F, T>, argv = process.argv.slice(2)): T =>
  runParse(() => parseCommand(command, argv));

export const runGroup = <C extends Record<string, Command<Flags, unknown>>>(
  group: Group<C>,
  argv = process.argv.slice(2),
): ResultOf<C> => runParse(() => parseGroup(group, argv));
