import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
const number = /^\d+(\.\d+)?$/;
const bench = async (args: string[]): Promise<string> =>
  (
    await promisify(execFile)(process.execPath, ['scripts/bench.ts', ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '' },
      timeout: 150_000,
      maxBuffer: 1 << 20,
    })
  ).stdout;

// The benchmark asserts nothing itself; this checks that it runs end to end and prints every figure.
describe('npm run bench', () => {
  it('prints the floor and the worker at one credit window, every configuration, the ratios and the SQL-only part', async () => {
    const stdout = await bench(['--tiny']);
    const equal = [
      ...stdout.matchAll(/^ {2}(sdk-floor|worker).* window +(\d+) +(\d+) msgs\/s +(\d+) µs CPU\/msg /gm),
    ];
    expect(equal.map((m) => m[1])).toEqual(['sdk-floor', 'worker']);
    // Both at the worker's default window: a smaller one slows the floor and flatters the ratio.
    expect(equal.map((m) => m[2])).toEqual(['256', '256']);
    expect(stdout).toMatch(/steady state \(messages 1,200 to 2,000 of a 2,000 drain each\)/);
    expect(stdout).toMatch(/worker ÷ floor: CPU per message \d+\.\d\d ×, msgs\/s \d+\.\d\d ×/);

    const rows = stdout
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| configuration') && !l.startsWith('| ---'))
      .map((l) =>
        l
          .split('|')
          .slice(1, -1)
          .map((c) => c.trim()),
      );
    expect(rows.map((r) => r.slice(0, 3))).toEqual([
      ['sdk-floor', '256', '2000'],
      ['defaults', '256', '2000'],
      ['defaults', '256', '200'],
      ['naive', '1', '20'],
      ['naive-concurrent', '32', '60'],
    ]);
    for (const [name, , backlog, ...figures] of rows) {
      // The floor writes nothing to SQL and the long drain is for the steady state: no lag figures there.
      const measured = name === 'sdk-floor' || backlog === '2000' ? figures.slice(0, 4) : figures;
      for (const f of measured) expect(f, `${name}: ${figures.join(', ')}`).toMatch(number);
    }
    const ratios = stdout.split('\n').filter((l) => /target [≤≥]/.test(l));
    expect(ratios).toHaveLength(8);
    for (const line of ratios) expect(line).toMatch(/\s\d+\.\d\d\s+target/);
    expect(stdout).toMatch(/batched \(100 per transaction\)\s+\d+ rows\/s\s+\d+\.\d ms per transaction/);
    expect(stdout).toMatch(/one transaction per message\s+\d+ rows\/s/);
    expect(stdout).toMatch(/Node v\d+\.\d+\.\d+, \d+ cores/);
  }, 180_000);

  it('prints the clean drain of a burst, its recovery after a database outage and their ratio', async () => {
    const stdout = await bench(['--outage', '--tiny']);
    expect(stdout).toMatch(/a burst of 200 \S+ events; SQL fails .* for 3 s/);
    expect(stdout).toMatch(/clean drain: burst appears → last event applied +\d+\.\d s +\d+ msgs\/s/);
    // The recovery is timed from the worker's "database available again" line, not from the fault's end.
    expect(stdout).toMatch(/fault ends → breaker closes +\d+\.\d s/);
    expect(stdout).toMatch(/recovery: breaker closes → last event applied +\d+\.\d s/);
    expect(stdout).toMatch(/recovery ÷ clean drain +\d+\.\d\d × +target ≤ 1\.2/);
    expect(stdout).toMatch(/dead-lettered +0$/m);
    expect(stdout).not.toMatch(/not applied/);
  }, 180_000);
});
