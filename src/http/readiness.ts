/** A readiness check resolves when the dependency is usable and throws (or rejects) saying why not. */
export type ReadinessCheck = (signal: AbortSignal) => Promise<void> | void;

export type ReadinessResult = {
  ready: boolean;
  /** Check name → 'ok' or what failed. */
  checks: Record<string, string>;
};

export type Readiness = {
  /** Adds a named check; a component adds its own when it starts. Replaces a check of the same name. */
  add(name: string, check: ReadinessCheck): void;
  remove(name: string): void;
  /** Not ready from now on, whatever the checks say: the process is shutting down. */
  setDraining(): void;
  check(): Promise<ReadinessResult>;
};

export type ReadinessOptions = {
  /** A check that has not answered within this long fails. @defaultValue 2000 */
  timeoutMs?: number;
};

const reasonOf = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === 'string' ? error : String(error);

/**
 * Readiness as a list of named checks run together. A replica that is not ready gets no traffic
 * from the platform but is not restarted, so a check says whether this replica can do its work now,
 * never whether it should be killed.
 */
export function createReadiness(options: ReadinessOptions = {}): Readiness {
  const timeoutMs = options.timeoutMs ?? 2_000;
  const checks = new Map<string, ReadinessCheck>();
  let draining = false;

  const run = async (check: ReadinessCheck): Promise<string> => {
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => {
        abort.abort();
        resolve(`no answer within ${timeoutMs} ms`);
      }, timeoutMs);
    });
    try {
      return await Promise.race([
        Promise.resolve()
          .then(() => check(abort.signal))
          .then(
            () => 'ok',
            (error: unknown) => reasonOf(error),
          ),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    add(name, check) {
      checks.set(name, check);
    },
    remove(name) {
      checks.delete(name);
    },
    setDraining() {
      draining = true;
    },
    async check() {
      const names = [...checks.keys()];
      const answers = await Promise.all([...checks.values()].map(run));
      const result: Record<string, string> = draining ? { shutdown: 'draining' } : {};
      names.forEach((name, i) => {
        result[name] = answers[i] as string;
      });
      const ready = !draining && names.length > 0 && answers.every((a) => a === 'ok');
      return { ready, checks: result };
    },
  };
}
