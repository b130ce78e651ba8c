import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grants } from '../../src/identity/roles.ts';

// Runs scripts/provision.sh or scripts/deploy.sh with the recording az and npm of
// test/helpers/az-recorder first on PATH, and reads back what they were asked to do.
export const root = new URL('../../', import.meta.url).pathname;
const recorder = join(root, 'test/helpers/az-recorder');

export type Run = {
  status: number | null;
  stdout: string;
  stderr: string;
  output: string;
  calls: string[][];
};

export type Recorder = {
  readonly work: string;
  /** Runs the script; `env` adds AZ_RECORD_* settings (AZ_RECORD_STATE is a directory under work). */
  run(script: 'provision' | 'deploy', args: string[], env?: Record<string, string>): Run;
  /** A directory that keeps what runs create, so that a second run finds it. */
  state(name: string): string;
  close(): void;
};

export function createRecorder(): Recorder {
  const work = mkdtempSync(join(tmpdir(), 'keyless-az-'));
  let runs = 0;
  return {
    work,
    run(script, args, env = {}) {
      const record = join(work, `calls-${++runs}.log`);
      writeFileSync(record, '');
      const result = spawnSync('bash', [join(root, `scripts/${script}.sh`), ...args], {
        encoding: 'utf8',
        env: {
          PATH: `${recorder}:${process.env.PATH}`,
          AZ_RECORD_FILE: record,
          TMPDIR: work,
          DEPLOY_POLL_SECONDS: '0',
          ...env,
        },
      });
      const calls = readFileSync(record, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split('\x1f').slice(0, -1));
      return {
        status: result.status,
        stdout: result.stdout,
        stderr: result.stderr,
        output: `${result.stdout}${result.stderr}`,
        calls,
      };
    },
    state(name) {
      const dir = join(work, name);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    close: () => rmSync(work, { recursive: true, force: true }),
  };
}

export const flag = (call: string[], name: string) => call[call.indexOf(name) + 1];
/** Calls that change something in Azure (or run a job): what a second run must not make. */
export const writes = (calls: string[][]) =>
  calls.filter(
    (c) => c[0] !== 'npm' && c.some((w) => ['create', 'update', 'delete', 'build', 'start'].includes(w)),
  );

/** The role assignments created, as `object id | role | scope`. */
export const assignments = (calls: string[][]) =>
  calls
    .filter((c) => c[0] === 'role' && c[1] === 'assignment' && c[2] === 'create')
    .map((c) => `${flag(c, '--assignee-object-id')} | ${flag(c, '--role')} | ${flag(c, '--scope')}`)
    .sort();
/** The recorder names a resource's id after its command group and name: the queue, not its namespace. */
const fakeScope: Record<string, string> = {
  queue: '/fake/servicebus/queue/orders',
  vault: '/fake/keyvault/keyless-kv',
  registry: '/fake/acr/keylessacr',
};
export const expectedAssignments = (objectIdOf: (p: string) => string, only?: string) =>
  grants
    .filter((g) => g.kind === 'rbac' && (only === undefined || g.principal === only))
    .map((g) => `${objectIdOf(g.principal)} | ${g.role} | ${fakeScope[g.scope]}`)
    .sort();
