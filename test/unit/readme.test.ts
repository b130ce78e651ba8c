import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { variables } from '../../src/config.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('the README', () => {
  it('lists every environment variable the worker reads, and no other', () => {
    const table = [...readme.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(table.sort()).toEqual(Object.keys(variables).sort());
  });

  it('gives each variable the meaning and default the code has', () => {
    for (const [name, meaning] of Object.entries(variables)) {
      expect(readme).toContain(`| \`${name}\` | ${meaning} |`);
    }
  });

  it('names the two commands a newcomer runs', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });
});
