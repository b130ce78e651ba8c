import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';

export type LockKeeperOptions = {
  /** Renewals of a message stop this long after it was taken, however long its handling takes. */
  maxMs: number;
  /** @defaultValue Date.now */
  now?: () => number;
};

/** When to renew a lock that ends at `until`: 10 s before it on long locks, halfway on short ones. */
export const renewAfterMs = (until: number, now: number): number => {
  const left = until - now;
  return Math.max(100, left > 20_000 ? left - 10_000 : left / 2);
};

/** One held message's lock. */
export type HeldLock = {
  /** Stops its renewal; the caller does so just before it settles (safe to call again). */
  release(): void;
  /** Whether its lock was renewed at least once. */
  readonly renewed: boolean;
};

export type LockKeeper = {
  /** Keeps `message`'s lock through `receiver` until released; `onError` is told of a renewal that failed. */
  hold(
    receiver: Pick<ServiceBusReceiver, 'renewMessageLock'>,
    message: ServiceBusReceivedMessage,
    onError: (error: unknown) => void,
  ): HeldLock;
  /** Messages held now. */
  readonly held: number;
};

type Entry = {
  receiver: Pick<ServiceBusReceiver, 'renewMessageLock'>;
  message: ServiceBusReceivedMessage;
  onError: (error: unknown) => void;
  /** When the next renewal is due; undefined while one is under way or none will come. */
  dueAt: number | undefined;
  endAt: number;
  released: boolean;
  renewed: boolean;
  release(): void;
};

/**
 * Keeps the locks of the messages a path holds, through each receiver's `renewMessageLock`: one
 * timer for all of them, at the next renewal due, instead of one per message (most are settled in
 * milliseconds, long before any renewal).
 *
 * The SDK's own automatic renewal is not used: it keys its timers by the receive link's name,
 * which changes when the SDK reattaches after a dropped connection, so settling a message received
 * before the reconnect does not stop its renewal. A message whose settlement then failed stayed
 * locked, renewed, for the whole renewal limit instead of coming back when its lock expired.
 * Here the release belongs to the message and nothing else.
 */
export function createLockKeeper(options: LockKeeperOptions): LockKeeper {
  const now = options.now ?? Date.now;
  const entries = new Set<Entry>();
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Number.POSITIVE_INFINITY;

  const dueAfter = (until: number | undefined, endAt: number): number | undefined => {
    if (until === undefined || until >= endAt) return undefined;
    const t = now();
    return t + Math.min(renewAfterMs(until, t), Math.max(0, endAt - t));
  };

  const arm = (at: number): void => {
    if (at >= timerAt) return;
    clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(fire, Math.max(0, at - now()));
    timer.unref();
  };

  const renew = (e: Entry): void => {
    e.dueAt = undefined;
    e.receiver.renewMessageLock(e.message).then(
      (until) => {
        if (e.released) return;
        e.renewed = true;
        e.dueAt = dueAfter(until.getTime(), e.endAt);
        if (e.dueAt !== undefined) arm(e.dueAt);
      },
      (error: unknown) => {
        if (!e.released) e.onError(error);
      },
    );
  };

  function fire(): void {
    timer = undefined;
    timerAt = Number.POSITIVE_INFINITY;
    const t = now();
    let next = Number.POSITIVE_INFINITY;
    for (const e of entries) {
      if (e.dueAt === undefined) continue;
      if (e.dueAt <= t) renew(e);
      else next = Math.min(next, e.dueAt);
    }
    if (next !== Number.POSITIVE_INFINITY) arm(next);
  }

  return {
    hold(receiver, message, onError) {
      const endAt = now() + options.maxMs;
      const entry: Entry = {
        receiver,
        message,
        onError,
        endAt,
        dueAt: dueAfter(message.lockedUntilUtc?.getTime(), endAt),
        released: false,
        renewed: false,
        release() {
          if (entry.released) return;
          entry.released = true;
          entries.delete(entry);
          if (entries.size === 0) {
            clearTimeout(timer);
            timer = undefined;
            timerAt = Number.POSITIVE_INFINITY;
          }
        },
      };
      entries.add(entry);
      if (entry.dueAt !== undefined) arm(entry.dueAt);
      return entry;
    },
    get held() {
      return entries.size;
    },
  };
}
