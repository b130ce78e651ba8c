import { spawn } from 'node:child_process';

const root = new URL('../../', import.meta.url).pathname;

export type ScriptRun = {
  code: number | null;
  /** stdout and stderr as they came. */
  out: string;
  stdout: string;
  stderr: string;
};

/**
 * Runs `node <args>` (or `command <args>`) from the repository's root to its exit, with only `env`
 * (and PATH, HOME) set and no terminal on stdin.
 */
export function runScript(
  args: string[],
  env: Record<string, string> = {},
  command = process.execPath,
): Promise<ScriptRun> {
  const child = spawn(command, args, {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: ScriptRun = { code: null, out: '', stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => {
    run.out += d.toString();
    run.stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    run.out += d.toString();
    run.stderr += d.toString();
  });
  return new Promise((resolve) =>
    child.on('close', (code) => {
      run.code = code;
      resolve(run);
    }),
  );
}
