import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.ts';
import { grants } from '../../src/identity/roles.ts';

// scripts/provision.sh against a recording `az` first on PATH (test/helpers/az-recorder/az): what it
// would run (--dry-run), what it runs when nothing exists, and that a second run changes nothing.
const root = new URL('../../', import.meta.url).pathname;
const script = join(root, 'scripts/provision.sh');
const work = mkdtempSync(join(tmpdir(), 'keyless-provision-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

type Run = { status: number | null; output: string; calls: string[][] };
let runs = 0;
const provision = (mode: 'absent' | 'present', ...args: string[]): Run => {
  const record = join(work, `calls-${++runs}.log`);
  writeFileSync(record, '');
  const result = spawnSync('bash', [script, ...args], {
    encoding: 'utf8',
    env: {
      PATH: `${join(root, 'test/helpers/az-recorder')}:${process.env.PATH}`,
      AZ_RECORD_FILE: record,
      AZ_RECORD_MODE: mode,
      TMPDIR: work,
    },
  });
  const calls = readFileSync(record, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split('\x1f').slice(0, -1));
  return { status: result.status, output: `${result.stdout}${result.stderr}`, calls };
};

const flag = (call: string[], name: string) => call[call.indexOf(name) + 1];
const assignments = (calls: string[][]) =>
  calls
    .filter((c) => c[0] === 'role' && c[1] === 'assignment' && c[2] === 'create')
    .map((c) => `${flag(c, '--assignee-object-id')} | ${flag(c, '--role')} | ${flag(c, '--scope')}`)
    .sort();
const fakeScope: Record<string, string> = {
  queue: '/fake/servicebus/queue/orders',
  vault: '/fake/keyvault/keyless-kv',
  registry: '/fake/acr/keylessacr',
};
const expectedAssignments = (objectIdOf: (p: string) => string) =>
  grants
    .filter((g) => g.kind === 'rbac')
    .map((g) => `${objectIdOf(g.principal)} | ${g.role} | ${fakeScope[g.scope]}`)
    .sort();

describe('scripts/provision.sh', () => {
  it.skipIf(spawnSync('shellcheck', ['--version']).status !== 0)(
    'is ShellCheck clean, and so is the recording az (skipped only where shellcheck is not installed; .ci/run installs it)',
    () => {
      const result = spawnSync('shellcheck', [script, join(root, 'test/helpers/az-recorder/az')], {
        encoding: 'utf8',
      });
      expect(result.stdout).toBe('');
      expect(result.status).toBe(0);
    },
  );

  it('lists the roles table of src/identity/roles.ts, row for row', () => {
    const text = readFileSync(script, 'utf8');
    const rows = [...(text.match(/GRANTS=\(\n([\s\S]*?)\n\)/)?.[1] ?? '').matchAll(/"([^"]+)"/g)].map(
      (m) => m[1],
    );
    expect(rows).toEqual(grants.map((g) => `${g.principal}|${g.kind}|${g.role}|${g.scope}`));
  });

  it('prints every az command in a dry run and runs none', () => {
    const { status, output, calls } = provision('absent', '--dry-run');
    expect(status).toBe(0);
    expect(calls).toEqual([]);
    expect(output).toContain('dry run: nothing ran');
    for (const g of grants.filter((x) => x.kind === 'rbac'))
      expect(output).toMatch(new RegExp(`role assignment create .*--role ${g.role.replace(/ /g, '\\\\ ')}`));
    expect(output).toMatch(/az containerapp create .*--yaml/);
    expect(output).toMatch(/az keyvault create .*--enable-rbac-authorization true/);
    expect(output).toMatch(/az sql server create .*--enable-ad-only-auth/);
    expect(output).toMatch(/az redisenterprise create .*--access-keys-authentication Disabled/);
  });

  it('creates everything when nothing exists, granting exactly the roles table at the narrowest scope', () => {
    const { status, output, calls } = provision('absent');
    expect(status, output).toBe(0);
    // The recorder names a resource's id after its command group and name: the queue, not its namespace.
    expect(assignments(calls)).toEqual(expectedAssignments((p) => `principalId-of-keyless-${p}`));
    const roles = calls.filter((c) => c[0] === 'role').map((c) => flag(c, '--role') ?? '');
    expect(roles.filter((r) => /^(Owner|Contributor)$/.test(r))).toEqual([]);
    const policy = calls.find((c) => c.includes('access-policy-assignment') && c.includes('create'));
    expect(policy && flag(policy, '--object-id')).toBe('principalId-of-keyless-worker');
    expect(calls.find((c) => c[0] === 'servicebus' && c[1] === 'namespace' && c[2] === 'create')).toContain(
      '--disable-local-auth',
    );
    for (const g of grants.filter((x) => x.kind === 'sql'))
      expect(output).toContain(`ALTER ROLE ${g.role} ADD MEMBER [keyless-${g.principal}];`);
    expect(output).toContain('CREATE USER [keyless-worker] FROM EXTERNAL PROVIDER;');
    const rendered = output.match(/rendered (\S+) and/)?.[1] as string;
    const app = readFileSync(rendered, 'utf8');
    expect(app).not.toMatch(/^[^#]*\$\{/m);
    const env = Object.fromEntries(
      (parse(app).properties.template.containers[0].env as { name: string; value: string }[]).map((e) => [
        e.name,
        e.value,
      ]),
    );
    expect(env.AZURE_CLIENT_ID).toBe('clientId-of-keyless-worker');
  });

  it('changes nothing on a second run and says so', () => {
    const { status, output, calls } = provision('present');
    expect(status, output).toBe(0);
    const writes = calls.filter((c) => c.some((w) => w === 'create' || w === 'update' || w === 'delete'));
    expect(writes).toEqual([]);
    expect(output).toContain('nothing to change: everything was present');
    expect(output).not.toMatch(/^(create|assign) /m);
  });

  it('provisions a system-assigned worker identity with --identity system, granting its roles once the app exists', () => {
    const { status, output, calls } = provision('absent', '--identity', 'system');
    expect(status, output).toBe(0);
    expect(calls.filter((c) => c[0] === 'identity' && flag(c, '--name') === 'keyless-worker')).toEqual([]);
    const appCreated = calls.findIndex((c) => c[0] === 'containerapp' && c[1] === 'create');
    const workerGrant = calls.findIndex((c) => c.includes('identity.principalId-of-keyless-worker'));
    expect(workerGrant).toBeGreaterThan(appCreated);
    const rendered = output.match(/rendered (\S+) and/)?.[1] as string;
    const app = parse(readFileSync(rendered, 'utf8'));
    expect(app.identity.type).toBe('SystemAssigned,UserAssigned');
    const env = Object.fromEntries(
      (app.properties.template.containers[0].env as { name: string; value: string }[]).map((e) => [
        e.name,
        e.value,
      ]),
    );
    expect(env.AZURE_CLIENT_ID).toBeUndefined();
    expect(loadConfig(env).identity.clientId).toBeUndefined();
    expect(app.properties.configuration.registries[0].identity).toBe('system');
    expect(output).toContain('CREATE USER [keyless-worker] FROM EXTERNAL PROVIDER;');
  });
});
