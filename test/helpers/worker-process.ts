import { type ChildProcess, spawn } from 'node:child_process';

export type WorkerProcess = {
  child: ChildProcess;
  /** Everything it printed, stdout and stderr. */
  output(): string;
  exited: Promise<number | null>;
  /** The ops port (/healthz, /readyz, /metrics) it announced. */
  httpPort(): number;
};

const mainPath = new URL('../../src/main.ts', import.meta.url).pathname;
// Replicas and test files run side by side: each worker takes a free port unless a test names one.
const baseEnv = (): Record<string, string> => ({ PATH: process.env.PATH ?? '', HTTP_PORT: '0' });

/** Starts `src/main.ts` as its own process, as the platform runs a replica, and waits until it runs. */
export async function startWorkerProcess(
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [mainPath], {
    env: { ...baseEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`worker not running after ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('"msg":"worker running"')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited ${code} before running:\n${output}`));
    });
  });
  const httpPort = (): number => {
    const m = /"port":(\d+)[^\n]*ops endpoints listening/.exec(output);
    if (!m) throw new Error(`the worker announced no ops port:\n${output}`);
    return Number(m[1]);
  };
  return { child, output: () => output, exited, httpPort };
}

/** Runs `src/main.ts` to its exit (a start that is expected to fail), with a time limit. */
export function runWorkerProcess(
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [mainPath], {
    env: { ...baseEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }),
  );
}
