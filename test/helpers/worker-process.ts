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
  const worker = spawnWorkerProcess(env);
  await worker.waitFor('"msg":"worker running"', timeoutMs);
  return worker;
}

/** Starts `src/main.ts` without waiting: for tests that watch its start. */
export function spawnWorkerProcess(
  env: Record<string, string>,
): WorkerProcess & { waitFor(text: string, timeoutMs?: number): Promise<void> } {
  const child = spawn(process.execPath, [mainPath], {
    env: { ...baseEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    output += d.toString();
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const waitFor = (text: string, timeoutMs = 30_000): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        listeners.delete(check);
        child.off('exit', onExit);
        if (error) reject(error);
        else resolve();
      };
      const check = () => {
        if (output.includes(text)) done();
      };
      const onExit = (code: number | null) =>
        done(new Error(`worker exited ${code} before "${text}":\n${output}`));
      const timer = setTimeout(
        () => done(new Error(`no "${text}" after ${timeoutMs} ms:\n${output}`)),
        timeoutMs,
      );
      listeners.add(check);
      child.once('exit', onExit);
      check();
    });
  const httpPort = (): number => {
    const m = /"port":(\d+)[^\n]*ops endpoints listening/.exec(output);
    if (!m) throw new Error(`the worker announced no ops port:\n${output}`);
    return Number(m[1]);
  };
  return { child, output: () => output, exited, httpPort, waitFor };
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
