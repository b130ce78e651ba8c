import type { Logger } from 'pino';
import { createPeriodicTask, type PeriodicTask } from '../lifecycle.ts';

/** What the watchdog concluded from one check; returned for tests and logged on `recreated`. */
export type WatchdogVerdict = 'recent' | 'busy' | 'empty' | 'recreated' | 'failed';

export type WatchdogOptions = {
  /** A receiver that got nothing for this long, while messages wait, counts as stalled. @defaultValue 60000 */
  idleMs?: number;
  /** Time between checks. @defaultValue idleMs / 2 */
  checkIntervalMs?: number;
};

export type ReceiverWatchdogDeps = {
  idleMs: number;
  /** When the receiver last delivered a message or was (re)created, in ms since the epoch. */
  lastActivityAt: () => number;
  /** Messages being handled now: while any is, a quiet receiver is just waiting for credit. */
  inFlight: () => number;
  /** Whether messages nobody holds a lock on wait in the entity (a peek, not a receive). */
  hasWaitingMessages: () => Promise<boolean>;
  recreate: () => Promise<void>;
  logger: Logger;
  now?: () => number;
};

export type ReceiverWatchdog = {
  check(): Promise<WatchdogVerdict>;
  start(intervalMs: number): void;
  stop(): void;
};

/**
 * Notices a receive link that stopped delivering without an error (credit lost, link silently
 * detached) while messages wait, and replaces the receiver; the SDK only recovers from errors it sees.
 */
export function createReceiverWatchdog(deps: ReceiverWatchdogDeps): ReceiverWatchdog {
  const now = deps.now ?? Date.now;
  let task: PeriodicTask | undefined;

  const check = async (): Promise<WatchdogVerdict> => {
    const idleForMs = now() - deps.lastActivityAt();
    if (idleForMs < deps.idleMs) return 'recent';
    if (deps.inFlight() > 0) return 'busy';
    let waiting: boolean;
    try {
      waiting = await deps.hasWaitingMessages();
    } catch (error: unknown) {
      deps.logger.warn({ stage: 'receive', err: error }, 'watchdog could not peek the entity');
      return 'failed';
    }
    if (!waiting) return 'empty';
    deps.logger.warn(
      { stage: 'receive', idleForMs },
      'receiver delivered nothing while messages wait; recreating it',
    );
    try {
      await deps.recreate();
    } catch (error: unknown) {
      deps.logger.error({ stage: 'receive', err: error }, 'recreating the receiver failed');
      return 'failed';
    }
    return 'recreated';
  };

  return {
    check,
    start(intervalMs) {
      if (task) return;
      task = createPeriodicTask({
        name: 'receiver watchdog',
        run: async () => {
          await check();
        },
        intervalMs,
        onError: (error) => deps.logger.warn({ stage: 'receive', err: error }, 'watchdog check failed'),
        logger: deps.logger,
      });
      task.start();
    },
    stop() {
      void task?.close();
    },
  };
}
