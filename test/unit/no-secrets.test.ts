import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// Invariant 3: no connection string, key or certificate key for the Azure services is committed.
// Keys and certificates of the stand-ins are made at run time and kept in memory or in .local/.
const root = new URL('../../', import.meta.url).pathname;
const tracked = execFileSync('git', ['ls-files', '-co', '--exclude-standard'], {
  cwd: root,
  encoding: 'utf8',
})
  .split('\n')
  .filter((f) => f && !f.endsWith('package-lock.json'));

const patterns: [string, RegExp][] = [
  ['Service Bus or storage account key', /(SharedAccessKey|AccountKey)=[A-Za-z0-9+/]{40,}={0,2}/],
  ['private key', /-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/],
  ['SQL password in a connection string', /Password=[^;'"\s]{8,};/i],
  ['JWT', /eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]{10,}/],
];

describe('the repository', () => {
  it('has files to check', () => {
    expect(tracked.length).toBeGreaterThan(50);
  });

  it.each(patterns)('holds no %s', (_what, pattern) => {
    const found = tracked.filter((file) => {
      try {
        return pattern.test(readFileSync(`${root}${file}`, 'utf8'));
      } catch {
        return false; // a file deleted in the work tree but still listed
      }
    });
    expect(found).toEqual([]);
  });
});
