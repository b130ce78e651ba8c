/** Cleanup in reverse order of acquisition; one failing step does not skip the others. */
export type Closer = {
  add(name: string, close: () => Promise<void> | void): void;
  /** Idempotent: the second call waits for the first. Resolves with the steps that failed. */
  closeAll(): Promise<{ name: string; error: unknown }[]>;
};

export function createCloser(): Closer {
  const steps: { name: string; close: () => Promise<void> | void }[] = [];
  let closing: Promise<{ name: string; error: unknown }[]> | undefined;
  return {
    add(name, close) {
      if (closing) throw new Error(`cannot add '${name}': shutdown has begun`);
      steps.push({ name, close });
    },
    closeAll() {
      closing ??= (async () => {
        const failures: { name: string; error: unknown }[] = [];
        for (const step of steps.reverse()) {
          try {
            await step.close();
          } catch (error: unknown) {
            failures.push({ name: step.name, error });
          }
        }
        return failures;
      })();
      return closing;
    },
  };
}
