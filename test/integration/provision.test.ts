import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { grants } from '../../src/identity/roles.ts';
import {
  assignments,
  createRecorder,
  expectedAssignments,
  flag,
  root,
  writes,
} from '../helpers/recorded-az.ts';

// scripts/provision.sh against a recording `az` first on PATH (test/helpers/az-recorder/az): what it
// would run (--dry-run), what it runs when nothing exists, and that a second run changes nothing.
const recorder = createRecorder();
afterAll(() => recorder.close());
const provision = (mode: 'absent' | 'present', ...args: string[]) =>
  recorder.run('provision', args, { AZ_RECORD_MODE: mode });

describe('scripts/provision.sh', () => {
  it.skipIf(spawnSync('shellcheck', ['--version']).status !== 0)(
    'is ShellCheck clean, and so are deploy.sh, their libraries and the recording az and npm (skipped only where shellcheck is not installed; .ci/run installs it)',
    () => {
      const files = [
        'scripts/provision.sh',
        'scripts/deploy.sh',
        'scripts/lib/az.sh',
        'scripts/lib/provision-steps.sh',
        'scripts/lib/deploy-steps.sh',
        'test/helpers/az-recorder/az',
        'test/helpers/az-recorder/npm',
      ];
      const result = spawnSync('shellcheck', ['-x', ...files], { cwd: root, encoding: 'utf8' });
      expect(result.stdout).toBe('');
      expect(result.status).toBe(0);
    },
  );

  it('lists the roles table of src/identity/roles.ts, row for row', () => {
    const text = readFileSync(join(root, 'scripts/lib/provision-steps.sh'), 'utf8');
    const rows = [...(text.match(/GRANTS=\(\n([\s\S]*?)\n\)/)?.[1] ?? '').matchAll(/"([^"]+)"/g)].map(
      (m) => m[1],
    );
    expect(rows).toEqual(grants.map((g) => `${g.principal}|${g.kind}|${g.role}|${g.scope}`));
  });

  it('prints -h/--help on stdout with exit 0, and a bad flag as one line and the usage on stderr with exit 2', () => {
    const help = provision('absent', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: scripts\/provision\.sh/);
    expect(help.calls).toEqual([]);
    const bad = provision('absent', '--frobnicate');
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.split('\n')[0]).toBe('provision: unknown option --frobnicate');
    expect(bad.stderr).toContain('usage: scripts/provision.sh');
    expect(provision('absent', '--prefix').stderr.split('\n')[0]).toBe('provision: --prefix needs a value');
  });

  it('prints every az command in a dry run, with a named placeholder for each value Azure would answer, and runs none', () => {
    const { status, output, calls } = provision('absent', '--dry-run');
    expect(status).toBe(0);
    expect(calls).toEqual([]);
    expect(output).toContain('dry run: nothing ran');
    expect(output).not.toMatch(/''|""/);
    for (const g of grants.filter((x) => x.kind === 'rbac'))
      expect(output).toMatch(
        new RegExp(
          `az role assignment create --assignee-object-id <${g.principal}-identity-principal-id> .*--role '?${g.role}'? --scope <[a-z-]+-id>`,
        ),
      );
    expect(output).toMatch(/az keyvault create .*--enable-rbac-authorization true/);
    expect(output).toMatch(
      /az sql server create .*--enable-ad-only-auth .*--external-admin-sid <sql-admin-id>/,
    );
    expect(output).toMatch(/az redisenterprise create .*--access-keys-authentication Disabled/);
    expect(output).not.toMatch(/containerapp create|acr build/);
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
    const firewall = calls.find((c) => c.includes('firewall-rule') && c.includes('create'));
    expect(firewall && [flag(firewall, '--start-ip-address'), flag(firewall, '--end-ip-address')]).toEqual([
      '0.0.0.0',
      '0.0.0.0',
    ]);
    for (const g of grants.filter((x) => x.kind === 'sql'))
      expect(output).toContain(`ALTER ROLE ${g.role} ADD MEMBER [keyless-${g.principal}];`);
    expect(output).toContain('CREATE USER [keyless-worker] FROM EXTERNAL PROVIDER;');
  });

  it('changes nothing on a second run and says so', () => {
    const { status, output, calls } = provision('present');
    expect(status, output).toBe(0);
    expect(writes(calls)).toEqual([]);
    expect(output).toContain('nothing to change: everything was present');
    expect(output).not.toMatch(/^(create|assign) /m);
  });

  it('leaves the worker out with --identity system: its identity is the app, which deploy.sh creates', () => {
    const { status, output, calls } = provision('absent', '--identity', 'system');
    expect(status, output).toBe(0);
    expect(calls.filter((c) => c[0] === 'identity' && flag(c, '--name') === 'keyless-worker')).toEqual([]);
    expect(calls.filter((c) => flag(c, '--assignee-object-id')?.includes('keyless-worker'))).toEqual([]);
    expect(output).toContain('scripts/deploy.sh --identity system');
  });
});
