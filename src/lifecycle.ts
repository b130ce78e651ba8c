import type { Logger } from 'pino';
import type { Metrics } from './metrics-registry.ts';

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

export type PeriodicTaskState = 'idle' | 'waiting' | 'running' | 'closed';

export type PeriodicTaskOptions = {
  /** Names the task in its state log lines. */
  name: string;
  /** One run; the next is scheduled when it settles, so two never overlap. */
  run: (signal: AbortSignal) => Promise<void>;
  /** Time from the end of one run to the start of the next; a function for backoff or jitter. */
  intervalMs: number | (() => number);
  /** Time from start() to the first run. @defaultValue the interval */
  firstDelayMs?: number;
  /** Told of a run that threw; the task goes on. */
  onError: (error: unknown) => void;
  logger: { info(obj: object, msg: string): void };
};

export type PeriodicTask = {
  readonly state: PeriodicTaskState;
  /** Schedules the first run; a task already started is left as it is. */
  start(): void;
  /** Runs now, or joins the run under way; the schedule goes on from its end. */
  runNow(): Promise<void>;
  /** Stops scheduling, aborts the run's signal and waits for it to end. Idempotent. */
  close(): Promise<void>;
};

/**
 * A loop every long-lived periodic job shares (reconciler, inbox retention, secret refresh,
 * watchdog): one state, one timer, never two runs at once, a close that waits for the run in hand.
 */
export function createPeriodicTask(options: PeriodicTaskOptions): PeriodicTask {
  const state = createStateMachine<PeriodicTaskState>({
    component: options.name,
    initial: 'idle',
    moves: {
      idle: ['waiting', 'running', 'closed'],
      waiting: ['running', 'closed'],
      running: ['waiting', 'closed'],
      closed: [],
    },
    // Every run moves twice: only start and close are lifecycle worth a line.
    logger: { info: (obj, msg) => msg.endsWith('closed') && options.logger.info(obj, msg) },
  });
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  const interval = () => (typeof options.intervalMs === 'number' ? options.intervalMs : options.intervalMs());

  const schedule = (delayMs: number): void => {
    if (state.current === 'closed') return;
    state.transition('waiting');
    timer = setTimeout(() => void runNow(), delayMs);
    timer.unref();
  };

  const runNow = (): Promise<void> => {
    if (state.current === 'closed') return Promise.resolve();
    clearTimeout(timer);
    running ??= (async () => {
      state.transition('running');
      try {
        await options.run(abort.signal);
      } catch (error: unknown) {
        if (!abort.signal.aborted) options.onError(error);
      } finally {
        running = undefined;
        schedule(interval());
      }
    })();
    return running;
  };

  return {
    get state() {
      return state.current;
    },
    start() {
      if (state.current !== 'idle') return;
      options.logger.info({ from: 'idle', to: 'waiting' }, `${options.name} started`);
      schedule(options.firstDelayMs ?? interval());
    },
    runNow,
    close() {
      closing ??= (async () => {
        clearTimeout(timer);
        const inHand = running;
        if (state.current !== 'closed') state.transition('closed');
        abort.abort();
        await inHand;
      })();
      return closing;
    },
  };
}

/**
 * What a component gets when the worker starts it: it registers its own cleanup, readiness checks
 * and gauges here, so the wiring only lists the components in order.
 */
export type StartContext = {
  logger: Logger;
  closer: Closer;
  /** Aborted when a signal interrupts the start. */
  signal?: AbortSignal | undefined;
  /** @defaultValue none (no metrics) */
  metrics?: Metrics | undefined;
  /** @defaultValue none (no readiness checks) */
  readiness?: { add(name: string, check: (signal: AbortSignal) => Promise<void> | void): void } | undefined;
};
