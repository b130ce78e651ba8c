export type BackoffOptions = {
  /** Delay bound of attempt 1, in ms. */
  baseDelayMs: number;
  /** Growth of the bound per attempt. */
  factor: number;
  /** Cap of the bound, in ms. */
  maxDelayMs: number;
};

/** The exponential bound of `attempt` (1-based): base × factor^(attempt-1), capped. */
export const delayBoundMs = (attempt: number, o: BackoffOptions): number =>
  Math.min(o.maxDelayMs, o.baseDelayMs * o.factor ** Math.max(0, attempt - 1));

/**
 * Full jitter: a uniform wait below the bound, so messages that failed together (one SQL outage)
 * do not all come back at the same instant.
 */
export const jitteredDelayMs = (
  attempt: number,
  o: BackoffOptions,
  random: () => number = Math.random,
): number => Math.floor(random() * delayBoundMs(attempt, o));
