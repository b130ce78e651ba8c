import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runScript, type ScriptRun } from '../helpers/run-script.ts';

// Every script as a person first tries it, as a process and with no stack: argument errors come
// before any setting is read or any connection made.
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('## Scripts\n'), readme.indexOf('## Configuration\n'));
const documented = [...section.matchAll(/```text\n(usage: [\s\S]*?)\n```/g)].map((m) => m[1]);

// Two at a time: each run loads the Azure SDKs, and the machine has other work to do.
let running = 0;
const waiting: (() => void)[] = [];
const limited = async (run: () => Promise<ScriptRun>): Promise<ScriptRun> => {
  if (running >= 2) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await run();
  } finally {
    running--;
    waiting.shift()?.();
  }
};

type Script = {
  name: string;
  run: (args: readonly string[], env?: Record<string, string>) => Promise<ScriptRun>;
};
const node = (name: string): Script => ({
  name,
  run: (args, env) => limited(() => runScript([`scripts/${name}.ts`, ...args], env)),
});
const start = node('start');
const stack = node('stack');
const publish = node('publish');
const sql = node('sql');
const migrate = node('migrate');
const doctor = node('doctor');
const reprocess = node('reprocess');
const fault = node('fault');
const bench = node('bench');
const provision: Script = {
  name: 'provision',
  run: (args, env) => runScript(['scripts/provision.sh', ...args], env, 'bash'),
};
const deploy: Script = {
  name: 'deploy',
  run: (args, env) => runScript(['scripts/deploy.sh', ...args], env, 'bash'),
};
const scripts = [start, stack, publish, sql, migrate, doctor, reprocess, fault, bench, provision, deploy];

/** What a refused command line shows: one line naming the problem, a blank line, the usage; exit 2. */
const expectRefused = (r: ScriptRun, line: string) => {
  expect(r.code, r.out).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr.split('\n')[0]).toBe(line);
  expect(r.stderr).toMatch(/\n\nusage: /);
  expect(r.stderr).not.toMatch(/^\s+at /m);
};

describe.concurrent('every script', () => {
  it.each(scripts)('$name --help prints the usage the README shows, on stdout, and exits 0', async (s) => {
    const r = await s.run(['--help']);
    expect(r.code, r.out).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.startsWith('usage: ')).toBe(true);
    expect(documented).toContain(r.stdout.trimEnd());
  });

  // For reprocess and fault: a flag of another sub-command, which the script knows but this one does not take.
  it.each([
    { s: start, args: ['--port', '1'], line: 'start: unknown option --port' },
    { s: stack, args: ['-q'], line: 'stack: unknown option -q' },
    { s: publish, args: ['--cout', '5'], line: 'publish: unknown option --cout' },
    { s: sql, args: ['SELECT 1', '--user', 'x'], line: 'sql: unknown option --user' },
    { s: migrate, args: ['--dry-run'], line: 'migrate: unknown option --dry-run' },
    { s: doctor, args: ['--verbose'], line: 'doctor: unknown option --verbose' },
    { s: reprocess, args: ['dlq', '--list'], line: 'reprocess dlq: unknown option --list' },
    { s: reprocess, args: ['inbox', '--purge'], line: 'reprocess inbox: unknown option --purge' },
    { s: fault, args: ['servicebus', '--seconds', '5'], line: 'fault servicebus: unknown option --seconds' },
    { s: bench, args: ['--fast'], line: 'bench: unknown option --fast' },
    { s: provision, args: ['--bogus'], line: 'provision: unknown option --bogus' },
    { s: deploy, args: ['--bogus'], line: 'deploy: unknown option --bogus' },
  ])('refuses a flag it does not take with "$line", then the usage, exit 2', async ({ s, args, line }) => {
    expectRefused(await s.run(args), line);
  });

  it('refuses a bad value naming the flag and what it expects', async () => {
    expectRefused(await publish.run(['--count', '0']), 'publish: --count must be a positive integer, got 0');
    expectRefused(await doctor.run(['publisher']), 'doctor: unexpected argument publisher');
    expectRefused(await provision.run(['--identity', 'x']), 'provision: --identity is user or system, not x');
  });
});

describe.concurrent('a bulk change without a terminal', () => {
  const bus = 'keyless-bus.servicebus.windows.net';
  const serviceBus = { SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: bus, SERVICEBUS_QUEUE: 'orders' };
  const refused = (r: ScriptRun, what: string) => {
    expect(r.code, r.out).toBe(2);
    expect(r.stderr.trim()).toBe(`${what}; add --yes to go ahead (--dry-run shows what it would do)`);
  };

  it('is refused with exit 2 naming --yes, before any token: an unfiltered dlq replay', async () => {
    refused(
      await reprocess.run(['dlq'], serviceBus),
      `reprocess dlq: this would replay every dead letter (orders on ${bus})`,
    );
  });

  it('is refused for retries --give-up without a message id', async () => {
    refused(
      await reprocess.run(['retries', '--give-up'], { ...serviceBus, REDIS_URL: 'redis://127.0.0.1:1' }),
      `reprocess retries: this would give up every waiting retry (orders on ${bus})`,
    );
  });

  it('is refused for inbox without a filter', async () => {
    refused(
      await reprocess.run(['inbox'], {
        SQL_SERVER: 'keyless-sql.database.windows.net',
        SQL_DATABASE: 'keyless',
      }),
      'reprocess inbox: this would re-apply every stored event (database keyless on keyless-sql.database.windows.net)',
    );
  });
});

describe('the doctor with --json', () => {
  it('prints even a stop before any verdict as one JSON document on stdout', async () => {
    const r = await doctor.run(['--as', 'publisher', '--json'], {
      SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: 'Endpoint=sb://keyless-bus/;SharedAccessKey=x',
      SERVICEBUS_QUEUE: 'orders',
    });
    expect(r.code, r.out).toBe(78);
    const report = JSON.parse(r.stdout) as { ok: boolean; principal: string; error: string };
    expect(report).toMatchObject({ ok: false, principal: 'publisher', question: 'own' });
    expect(report.error).toContain('SERVICEBUS_FULLY_QUALIFIED_NAMESPACE');
  });
});
