import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
const number = /^\d+(\.\d+)?$/;

// The benchmark asserts nothing itself; this checks that it runs end to end and prints every figure.
describe('npm run bench', () => {
  it('prints every figure of every configuration, the ratios and the SQL-only part', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['scripts/bench.ts', '--tiny'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '' },
      timeout: 150_000,
      maxBuffer: 1 << 20,
    });
    const rows = stdout
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| configuration') && !l.startsWith('| ---'))
      .map((l) =>
        l
          .split('|')
          .slice(1, -1)
          .map((c) => c.trim()),
      );
    expect(rows.map((r) => r[0])).toEqual(['sdk-floor', 'defaults', 'naive', 'naive-concurrent', 'defaults']);
    for (const [name, ...figures] of rows) {
      // The floor writes nothing to SQL and the large backlog is for flatness: no lag figures there.
      const measured = name === 'sdk-floor' || figures[0] === '400' ? figures.slice(0, 5) : figures;
      for (const f of measured) expect(f, `${name}: ${figures.join(', ')}`).toMatch(number);
    }
    const ratios = stdout.split('\n').filter((l) => /target [≤≥]/.test(l));
    expect(ratios).toHaveLength(8);
    for (const line of ratios) expect(line).toMatch(/\s\d+\.\d\d\s+target/);
    expect(stdout).toMatch(/batched \(100 per transaction\)\s+\d+ rows\/s\s+\d+\.\d ms per transaction/);
    expect(stdout).toMatch(/one transaction per message\s+\d+ rows\/s/);
    expect(stdout).toMatch(/Node v\d+\.\d+\.\d+, \d+ cores/);
  }, 180_000);
});
