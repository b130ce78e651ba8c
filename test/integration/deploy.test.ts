import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.ts';
import { assignments, createRecorder, expectedAssignments, flag, writes } from '../helpers/recorded-az.ts';

// scripts/deploy.sh against the recording az and npm (test/helpers/az-recorder): the order of what
// it runs, that a second run against what the first created changes nothing, and its failures.
const recorder = createRecorder();
afterAll(() => recorder.close());
const deploy = (args: string[], env: Record<string, string> = {}) =>
  recorder.run('deploy', ['--tag', '1', '--out', join(recorder.work, 'specs'), ...args], env);

const at = (calls: string[][], match: (c: string[]) => boolean, what: string): number => {
  const i = calls.findIndex(match);
  if (i < 0) throw new Error(`no call ${what} in:\n${calls.map((c) => c.join(' ')).join('\n')}`);
  return i;
};
const is =
  (...words: string[]) =>
  (c: string[]) =>
    words.every((w, i) => c[i] === w);
const named = (name: string) => (c: string[]) => flag(c, '--name') === name;
const envOf = (file: string) =>
  Object.fromEntries(
    (
      parse(readFileSync(file, 'utf8')).properties.template.containers[0].env as {
        name: string;
        value: string;
      }[]
    ).map((e) => [e.name, e.value]),
  );
const imageOf = (file: string): string =>
  parse(readFileSync(file, 'utf8')).properties.template.containers[0].image;
const specs = (name: string) => join(recorder.work, 'specs', name);

describe('scripts/deploy.sh', () => {
  it('prints -h/--help on stdout with exit 0, and a bad flag as one line and the usage on stderr with exit 2', () => {
    const help = recorder.run('deploy', ['-h']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: scripts\/deploy\.sh/);
    expect(help.calls).toEqual([]);
    const bad = recorder.run('deploy', ['--image', 'x']);
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.split('\n')[0]).toBe('deploy: unknown option --image');
    expect(bad.stderr).toContain('usage: scripts/deploy.sh');
    expect(recorder.run('deploy', ['--tag']).stderr.split('\n')[0]).toBe('deploy: --tag needs a value');
  });

  it('prints every command in a dry run, in order, with named placeholders, and runs none', () => {
    const { status, output, calls } = deploy(['--dry-run']);
    expect(status, output).toBe(0);
    expect(calls).toEqual([]);
    expect(output).not.toMatch(/''|""/);
    expect(output).toContain('--assignee-object-id <worker-identity-principal-id>');
    const lines = output.split('\n');
    const line = (re: RegExp) => lines.findIndex((l) => re.test(l));
    const steps = [
      /az role assignment create/,
      /npm run --silent sql -- <database-user-statements>/,
      /az acr build --registry keylessacr --image keyless-worker:1 --file Dockerfile \.$/,
      /az containerapp job create .*--name keyless-migrate --yaml \S+containerapp\.migrate-job\.yaml/,
      /az containerapp job start .*--name keyless-migrate/,
      /az containerapp job execution show .*--job-execution-name <migrate-execution-name>/,
      /az containerapp create .*--name keyless-worker --yaml \S+containerapp\.yaml/,
      /az containerapp job start .*--name keyless-doctor/,
    ].map(line);
    expect(
      steps.every((i) => i >= 0),
      output,
    ).toBe(true);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(readFileSync(specs('containerapp.yaml'), 'utf8')).toContain('<worker-identity-client-id>');
  });

  it('builds the image before any app or job names it, runs the migration job to success before the app exists, then runs the doctor', () => {
    const { status, output, calls } = deploy([], { AZ_RECORD_STATE: recorder.state('fresh') });
    expect(status, output).toBe(0);
    const users = at(calls, (c) => c[0] === 'npm', 'npm run sql');
    const build = at(calls, is('acr', 'build'), 'acr build');
    const firstYaml = at(calls, (c) => c.includes('--yaml'), 'with --yaml');
    const jobCreate = at(
      calls,
      (c) => is('containerapp', 'job', 'create')(c) && named('keyless-migrate')(c),
      'job create',
    );
    const migrate = at(
      calls,
      (c) => is('containerapp', 'job', 'start')(c) && named('keyless-migrate')(c),
      'job start',
    );
    const migrated = at(calls, is('containerapp', 'job', 'execution', 'show'), 'execution show');
    const app = at(calls, is('containerapp', 'create'), 'containerapp create');
    const doctor = at(
      calls,
      (c) => is('containerapp', 'job', 'start')(c) && named('keyless-doctor')(c),
      'doctor',
    );
    expect(users).toBeLessThan(migrate);
    expect(build).toBeLessThan(firstYaml);
    expect([jobCreate, migrate, migrated, app, doctor]).toEqual(
      [jobCreate, migrate, migrated, app, doctor].sort((a, b) => a - b),
    );
    expect(calls[users]).toEqual(
      expect.arrayContaining(['AZURE_CREDENTIAL=developer', 'SQL_SERVER=keyless-sql.database.windows.net']),
    );
    expect(calls[users]?.join('\n')).toContain('CREATE USER [keyless-operator] FROM EXTERNAL PROVIDER;');
    expect(assignments(calls)).toEqual(expectedAssignments((p) => `principalId-of-keyless-${p}`));

    for (const file of [
      'containerapp.yaml',
      'containerapp.migrate-job.yaml',
      'containerapp.doctor-job.yaml',
    ]) {
      expect(readFileSync(specs(file), 'utf8')).not.toMatch(/^[^#]*\$\{/m);
      expect(imageOf(specs(file))).toBe('loginServer-of-keylessacr/keyless-worker:1');
    }
    const appEnv = envOf(specs('containerapp.yaml'));
    expect(appEnv.AZURE_CLIENT_ID).toBe('clientId-of-keyless-worker');
    expect(envOf(specs('containerapp.doctor-job.yaml'))).toEqual(appEnv);
    expect(output).toMatch(
      /az containerapp logs show --resource-group keyless-rg --name keyless-worker --follow/,
    );
  });

  it('changes nothing on a second run against what the first created, and says so', () => {
    const { status, output, calls } = deploy([], { AZ_RECORD_STATE: recorder.state('fresh') });
    expect(status, output).toBe(0);
    expect(writes(calls)).toEqual([]);
    expect(output).toContain('nothing to change: everything was present');
    expect(output).not.toMatch(/^(create|assign|update|build|start) /m);
  });

  it('releases a new tag by building it, migrating with it, and only then updating the app', () => {
    const { status, output, calls } = recorder.run(
      'deploy',
      ['--tag', '2', '--out', join(recorder.work, 'specs')],
      { AZ_RECORD_STATE: recorder.state('fresh') },
    );
    expect(status, output).toBe(0);
    const build = at(calls, is('acr', 'build'), 'acr build');
    const jobUpdate = at(
      calls,
      (c) => is('containerapp', 'job', 'update')(c) && named('keyless-migrate')(c),
      'job update',
    );
    const migrate = at(
      calls,
      (c) => is('containerapp', 'job', 'start')(c) && named('keyless-migrate')(c),
      'job start',
    );
    const appUpdate = at(calls, is('containerapp', 'update'), 'containerapp update');
    expect([build, jobUpdate, migrate, appUpdate]).toEqual(
      [build, jobUpdate, migrate, appUpdate].sort((a, b) => a - b),
    );
    expect(calls.filter(is('containerapp', 'create'))).toEqual([]);
    expect(imageOf(specs('containerapp.yaml'))).toBe('loginServer-of-keylessacr/keyless-worker:2');
  });

  it('stops before the app when the migration job fails, with the command that shows its logs', () => {
    const { status, output, calls } = deploy([], { AZ_RECORD_JOB_STATUS: 'Failed' });
    expect(status).toBe(1);
    expect(calls.filter(is('containerapp', 'create'))).toEqual([]);
    expect(output).toContain('failed   migration job keyless-migrate: Failed');
    expect(output).toMatch(
      /az containerapp job logs show --resource-group keyless-rg --name keyless-migrate --execution keyless-migrate-execution-1 --container migrate/,
    );
  });

  it('lets this machine through the SQL firewall when Azure names its address, then creates the users', () => {
    const { status, output, calls } = deploy([], { AZ_RECORD_CLIENT_IP: '203.0.113.7' });
    expect(status, output).toBe(0);
    const rule = at(
      calls,
      (c) => c.includes('firewall-rule') && c.includes('create') && named('deployer-203-0-113-7')(c),
      'the rule',
    );
    expect(flag(calls[rule] as string[], '--start-ip-address')).toBe('203.0.113.7');
    const sql = calls.flatMap((c, i) => (c[0] === 'npm' ? [i] : []));
    expect(sql.length).toBe(2);
    expect(sql[0]).toBeLessThan(rule);
    expect(sql[1]).toBeGreaterThan(rule);
  });

  it('grants a system-assigned worker identity its roles and database user once the app exists, and says how to run the doctor in it', () => {
    const { status, output, calls } = deploy(['--identity', 'system'], {
      AZ_RECORD_STATE: recorder.state('system'),
    });
    expect(status, output).toBe(0);
    const app = at(calls, is('containerapp', 'create'), 'containerapp create');
    const workerGrants = calls.flatMap((c, i) =>
      c.includes('identity.principalId-of-keyless-worker') ? [i] : [],
    );
    expect(workerGrants.length).toBeGreaterThan(0);
    expect(Math.min(...workerGrants)).toBeGreaterThan(app);
    expect(assignments(calls.slice(app))).toEqual(
      expectedAssignments(() => 'identity.principalId-of-keyless-worker', 'worker'),
    );
    const lastSql = calls.findLastIndex((c) => c[0] === 'npm');
    expect(lastSql).toBeGreaterThan(app);
    expect(calls[lastSql]?.join('\n')).toContain('CREATE USER [keyless-worker] FROM EXTERNAL PROVIDER;');
    const rendered = parse(readFileSync(specs('containerapp.yaml'), 'utf8'));
    expect(rendered.identity.type).toBe('SystemAssigned,UserAssigned');
    const env = envOf(specs('containerapp.yaml'));
    expect(env.AZURE_CLIENT_ID).toBeUndefined();
    expect(loadConfig(env).identity.clientId).toBeUndefined();
    expect(rendered.properties.configuration.registries[0].identity).toBe('system');
    expect(calls.filter((c) => named('keyless-doctor')(c))).toEqual([]);
    expect(output).toContain(
      "az containerapp exec --resource-group keyless-rg --name keyless-worker --command 'node dist/scripts/doctor.js --as worker'",
    );
  });
});

describe("the README's deployment commands", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### One command'), readme.indexOf('**Idempotent.**'));
  const shown = [...section.matchAll(/```sh\n([\s\S]*?)```/g)]
    .flatMap((m) => (m[1] as string).split('\n'))
    .map((l) => l.trim())
    .filter((l) => /^(az|env) /.test(l));
  /** Shell words, with '…' quoting: enough for the commands deploy.sh prints. */
  const words = (line: string) => [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
  const sameTag = (line: string) => line.replace(/keyless-worker:\S+/g, 'keyless-worker:<tag>');

  it('are what a dry run prints, word for word', () => {
    expect(shown.length).toBeGreaterThan(8);
    // The default --out, as the README shows it.
    const { status, output } = recorder.run('deploy', ['--dry-run']);
    expect(status, output).toBe(0);
    const printed = new Set(output.split('\n').map((l) => sameTag(l.trim())));
    expect(shown.filter((l) => !printed.has(sameTag(l)))).toEqual([]);
  });

  it('are what a deployment runs (or, for watching the app, prints), placeholders standing for the values Azure answered', () => {
    const { status, output, calls } = recorder.run('deploy', [], {
      AZ_RECORD_STATE: recorder.state('readme'),
    });
    expect(status, output).toBe(0);
    const matches = (call: string[], shownWords: string[]) =>
      call.length === shownWords.length &&
      shownWords.every((w, i) =>
        new RegExp(`^${w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/<[a-z0-9-]+>/g, '.+')}$`).test(
          call[i] as string,
        ),
      );
    const printed = new Set(output.split('\n').map((l) => l.trim()));
    const azShown = shown.filter((l) => l.startsWith('az ') && !printed.has(l)).map((l) => words(l).slice(1));
    expect(azShown.length).toBeGreaterThan(5);
    expect(azShown.filter((w) => !calls.some((c) => matches(c, w))).map((w) => w.join(' '))).toEqual([]);
  });
});
