import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { caBundleFor } from '../stand-ins/tls-trust.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const files = () => {
  const dir = mkdtempSync(join(tmpdir(), 'keyless-ca-'));
  dirs.push(dir);
  const stackCaPath = join(dir, 'stack.pem');
  const userCaPath = join(dir, 'user.pem');
  writeFileSync(stackCaPath, '-----BEGIN CERTIFICATE-----\nstack\n-----END CERTIFICATE-----\n');
  writeFileSync(userCaPath, '-----BEGIN CERTIFICATE-----\nuser\n-----END CERTIFICATE-----');
  return { dir, stackCaPath, userCaPath };
};

describe('the CA file npm start gives the worker', () => {
  it("is the stack's CA when the user trusts no CA of their own", () => {
    const { dir, stackCaPath } = files();
    expect(caBundleFor({ stackCaPath, dir })).toBe(stackCaPath);
    expect(caBundleFor({ stackCaPath, userCaPath: stackCaPath, dir })).toBe(stackCaPath);
  });

  it("holds the user's CA beside the stack's", () => {
    const { dir, stackCaPath, userCaPath } = files();
    const bundle = readFileSync(caBundleFor({ stackCaPath, userCaPath, dir }), 'utf8');
    expect(bundle).toBe(`${readFileSync(userCaPath, 'utf8')}\n${readFileSync(stackCaPath, 'utf8')}`);
  });

  it('names NODE_EXTRA_CA_CERTS when the file it points to cannot be read', () => {
    const { dir, stackCaPath } = files();
    expect(() => caBundleFor({ stackCaPath, userCaPath: join(dir, 'missing.pem'), dir })).toThrow(
      /^NODE_EXTRA_CA_CERTS: cannot read .*missing\.pem/,
    );
  });
});
