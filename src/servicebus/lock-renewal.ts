import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';

export type LockRenewalOptions = {
  /** Renewals stop this long after the start, however long the handling takes. */
  maxMs: number;
  /** Told of a renewal that failed; renewal stops there (the lock is lost or about to be). */
  onError: (error: unknown) => void;
  /** @defaultValue Date.now */
  now?: () => number;
};

/** When to renew a lock that ends at `until`: 10 s before it on long locks, halfway on short ones. */
export const renewAfterMs = (until: number, now: number): number => {
  const left = until - now;
  return Math.max(100, left > 20_000 ? left - 10_000 : left / 2);
};

/**
 * Keeps one message's lock while it is handled, through the receiver's `renewMessageLock`; returns
 * the stop, which the caller calls before it settles the message (and which is safe to call again).
 *
 * The SDK's own automatic renewal is not used: it keys its timers by the receive link's name,
 * which changes when the SDK reattaches after a dropped connection, so settling a message received
 * before the reconnect does not stop its renewal. A message whose settlement then failed stayed
 * locked, renewed, for the whole renewal limit instead of coming back when its lock expired.
 * Here the stop belongs to the message and nothing else.
 */
export function keepLocked(
  receiver: Pick<ServiceBusReceiver, 'renewMessageLock'>,
  message: ServiceBusReceivedMessage,
  options: LockRenewalOptions,
): () => void {
  const now = options.now ?? Date.now;
  const endAt = now() + options.maxMs;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const schedule = (until: number | undefined): void => {
    if (stopped || until === undefined || until >= endAt) return;
    timer = setTimeout(renew, Math.min(renewAfterMs(until, now()), Math.max(0, endAt - now())));
    timer.unref();
  };
  const renew = (): void => {
    timer = undefined;
    if (stopped) return;
    receiver.renewMessageLock(message).then(
      (until) => schedule(until.getTime()),
      (error: unknown) => {
        if (!stopped) options.onError(error);
      },
    );
  };
  schedule(message.lockedUntilUtc?.getTime());
  return () => {
    stopped = true;
    clearTimeout(timer);
    timer = undefined;
  };
}
