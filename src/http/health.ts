import { monitorEventLoopDelay } from 'node:perf_hooks';

export type HealthResult = { healthy: boolean; eventLoopDelayMs: number; detail?: string };

export type Health = {
  check(): HealthResult;
  /** Stops measuring. Idempotent. */
  close(): void;
};

export type HealthOptions = {
  /** Event-loop delay above which the process counts as stuck. @defaultValue 5000 */
  maxEventLoopDelayMs?: number;
  /** How long a measurement window lasts before it starts again. @defaultValue 10000 */
  windowMs?: number;
};

/**
 * Liveness: the process answers and its event loop is not stuck. A loop blocked for good cannot
 * answer at all (the probe times out); this also catches one that runs but stalls for seconds at a
 * time, which starves lock renewal and settlement just the same. Failing liveness restarts the replica.
 */
export function createHealth(options: HealthOptions = {}): Health {
  const maxDelayMs = options.maxEventLoopDelayMs ?? 5_000;
  const windowMs = options.windowMs ?? 10_000;
  const current = monitorEventLoopDelay({ resolution: 20 });
  let previousMaxMs = 0;
  current.enable();
  // Two windows: the worst of the last full window and the current one, so a stall is not forgotten
  // the instant a window rolls over.
  const roll = setInterval(() => {
    previousMaxMs = current.max / 1e6;
    current.reset();
  }, windowMs);
  roll.unref();
  return {
    check() {
      const delayMs = Math.round(Math.max(previousMaxMs, current.max / 1e6));
      return delayMs > maxDelayMs
        ? {
            healthy: false,
            eventLoopDelayMs: delayMs,
            detail: `event loop delayed ${delayMs} ms (limit ${maxDelayMs} ms)`,
          }
        : { healthy: true, eventLoopDelayMs: delayMs };
    },
    close() {
      clearInterval(roll);
      current.disable();
    },
  };
}
