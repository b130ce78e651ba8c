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

/** A component's explicit state: every change goes through `transition`, which checks and logs it. */
export type StateMachine<S extends string> = {
  readonly current: S;
  /** Moves to `to`, logging `details` with the move; a move the table does not allow is a bug and throws. */
  transition(to: S, details?: object): void;
};

/**
 * `moves` lists, per state, the states it may move to. Each move is logged at info (lifecycle),
 * so a log shows how a worker or consumer came to the state it is in.
 */
export function createStateMachine<S extends string>(options: {
  component: string;
  initial: S;
  moves: Readonly<Record<S, readonly S[]>>;
  logger: { info(obj: object, msg: string): void };
}): StateMachine<S> {
  let current = options.initial;
  return {
    get current() {
      return current;
    },
    transition(to, details) {
      if (!options.moves[current].includes(to)) {
        throw new Error(`${options.component}: no move from '${current}' to '${to}'`);
      }
      options.logger.info({ ...details, from: current, to }, `${options.component} ${to}`);
      current = to;
    },
  };
}
