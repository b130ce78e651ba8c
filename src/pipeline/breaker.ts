import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { appliedKeys } from '../inbox/inbox.ts';
import type { StartContext } from '../lifecycle.ts';
import { metricNames } from '../metrics-registry.ts';
import type { SqlClient } from '../sql/client.ts';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** What one batch write told about the database. */
export type WriteResult =
  | { ok: true }
  /** `transient`: the adapter classified the failure so (outage, throttling, failover, failing login). */
  | { ok: false; transient: boolean; error: { code?: string; number?: number | undefined; message: string } };

export type BreakerOptions = {
  /** Consecutive transient batch failures that open it; 0 never opens it. @defaultValue 5 */
  threshold: number;
  /** Bound of the first probe's delay; it doubles per failed probe. @defaultValue 1000 */
  probeMinMs: number;
  /** Cap of the probe delay bound. @defaultValue 30000 */
  probeMaxMs: number;
  /** One trial of the database (a `SELECT 1` through the pool); throws while it is still down. */
  probe: () => Promise<void>;
  logger: Pick<Logger, 'warn' | 'info' | 'debug'>;
  /** Time between the summaries while it is open. @defaultValue 30000 */
  summaryMs?: number;
  /** @defaultValue Math.random */
  random?: () => number;
  /** @defaultValue Date.now */
  now?: () => number;
};

export type BreakerStats = {
  state: BreakerState;
  /** Messages waiting for the database now. */
  held: number;
  /** How long the current outage has lasted, 0 while closed. */
  openForMs: number;
  /** Probes that failed in the current outage. */
  probesFailed: number;
  /** Messages that waited past the hold bound and went the retry tier's way in the current outage. */
  deferred: number;
  /** Moves since start, by the state moved to. */
  transitions: Readonly<Record<BreakerState, number>>;
};

export type Breaker = {
  readonly state: BreakerState;
  /** Feeds one batch write's result: transient failures in a row open it, any answer resets the run. */
  record(result: WriteResult): void;
  /** Closed, but the last writes failed: the run may be an outage starting. */
  readonly suspect: boolean;
  /**
   * Resolves at the next result that decides the run, one that opens it or one that resets it, or
   * after `timeoutMs`: a message whose own retries are spent waits for that before it is deferred.
   */
  verdict(timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /**
   * Resolves true once it is closed (at once when it is), false when `timeoutMs` passed or `signal`
   * aborted first. Leaves nothing behind either way.
   */
  whenClosed(timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  /** Told of every move; returns the unsubscribe. */
  onChange(listener: (to: BreakerState, from: BreakerState) => void): () => void;
  /** A held message went the retry tier's way (counted for the logs). */
  noteDeferred(): void;
  stats(): BreakerStats;
  /** Stops its timers and releases every waiter (with false). Idempotent. */
  close(): void;
};

/**
 * The write path's circuit breaker (closed → open → half-open). A database that fails batch after
 * batch is an outage, not a message failure (invariant 7): while it is open the consumer stops
 * taking messages, the retry worker takes no jobs and held messages wait here instead of spending
 * their attempts. One probe at a time, at growing jittered intervals, so replicas deciding alone do
 * not strike a recovering database together; the first success closes it. A repeating failure is
 * logged as a state: one line when it opens, a summary while it lasts, one line when it closes.
 */
export function createBreaker(options: BreakerOptions): Breaker {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const summaryMs = options.summaryMs ?? 30_000;
  let state: BreakerState = 'closed';
  let failures = 0;
  let openedAt = 0;
  let probesFailed = 0;
  // The probe delay's doubling: kept across an outage that comes back soon after closing, so a
  // flapping database is probed ever less often instead of from 1 s each time.
  let backoff = 0;
  let closedAt = Number.NEGATIVE_INFINITY;
  let deferred = 0;
  let probeTimer: NodeJS.Timeout | undefined;
  let summaryTimer: NodeJS.Timeout | undefined;
  let closed = false;
  const transitions: Record<BreakerState, number> = { closed: 0, open: 0, 'half-open': 0 };
  const listeners = new Set<(to: BreakerState, from: BreakerState) => void>();
  const waiters = new Set<(closedNow: boolean) => void>();
  const pending = new Set<() => void>();
  const decided = (): void => {
    for (const p of [...pending]) p();
  };

  const move = (to: BreakerState): void => {
    const from = state;
    if (from === to) return;
    state = to;
    transitions[to]++;
    for (const l of listeners) {
      try {
        l(to, from);
      } catch (error: unknown) {
        logger.warn({ err: error }, 'a breaker listener failed');
      }
    }
    if (to === 'closed') {
      for (const w of [...waiters]) w(true);
    }
  };

  const figures = () => ({
    openForMs: now() - openedAt,
    held: waiters.size,
    deferred,
    probesFailed,
  });

  /** Equal jitter below a bound that doubles per failed probe: never 0, never past the cap. */
  const probeDelayMs = (): number => {
    const bound = Math.min(options.probeMaxMs, options.probeMinMs * 2 ** Math.min(backoff, 20));
    return bound / 2 + random() * (bound / 2);
  };

  const scheduleProbe = (): void => {
    if (closed) return;
    probeTimer = setTimeout(() => void probe(), probeDelayMs());
    probeTimer.unref();
  };

  const probe = async (): Promise<void> => {
    if (closed || state !== 'open') return;
    move('half-open');
    try {
      await options.probe();
    } catch (error: unknown) {
      // A write went through meanwhile and closed it, or the worker is stopping: this late answer
      // changes nothing.
      if ((state as BreakerState) !== 'half-open' || closed) return;
      probesFailed++;
      backoff++;
      logger.debug({ probesFailed, err: (error as Error).message }, 'database probe failed');
      move('open');
      scheduleProbe();
      return;
    }
    if ((state as BreakerState) === 'half-open' && !closed) close();
  };

  const open = (error: { code?: string; number?: number | undefined; message: string }): void => {
    openedAt = now();
    probesFailed = 0;
    deferred = 0;
    if (openedAt - closedAt > options.probeMaxMs) backoff = 0;
    move('open');
    logger.warn(
      { breaker: 'open', code: error.code, number: error.number, error: error.message, failures },
      'database unavailable: intake paused',
    );
    summaryTimer = setInterval(
      () => logger.warn({ breaker: state, ...figures() }, 'database still unavailable'),
      summaryMs,
    );
    summaryTimer.unref();
    scheduleProbe();
  };

  const close = (): void => {
    clearTimeout(probeTimer);
    clearInterval(summaryTimer);
    logger.info({ breaker: 'closed', ...figures() }, 'database available again: intake resumed');
    failures = 0;
    closedAt = now();
    move('closed');
  };

  return {
    get state() {
      return state;
    },
    record(result) {
      if (closed) return;
      if (result.ok || !result.transient) {
        // The database answered: a write went through, or it refused this batch for a reason of its own.
        failures = 0;
        if (state !== 'closed') close();
        decided();
        return;
      }
      if (state !== 'closed') return;
      failures++;
      if (options.threshold > 0 && failures >= options.threshold) {
        open(result.error);
        decided();
      }
    },
    get suspect() {
      return options.threshold > 0 && state === 'closed' && failures > 0;
    },
    verdict(timeoutMs, signal) {
      if (closed || signal?.aborted || timeoutMs <= 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = () => {
          pending.delete(done);
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        pending.add(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    },
    whenClosed(timeoutMs, signal) {
      if (state === 'closed') return Promise.resolve(true);
      if (closed || signal?.aborted || timeoutMs <= 0) return Promise.resolve(false);
      return new Promise<boolean>((resolve) => {
        const done = (closedNow: boolean) => {
          waiters.delete(done);
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(closedNow);
        };
        const onAbort = () => done(false);
        const timer = setTimeout(() => done(false), timeoutMs);
        waiters.add(done);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    noteDeferred() {
      deferred++;
    },
    stats: () => ({
      state,
      held: waiters.size,
      openForMs: state === 'closed' ? 0 : now() - openedAt,
      probesFailed,
      deferred,
      transitions: { ...transitions },
    }),
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(probeTimer);
      clearInterval(summaryTimer);
      for (const w of [...waiters]) w(false);
      decided();
    },
  };
}

/**
 * The worker's breaker over `pool`: its probe a write-path transaction that commits nothing, its state a gauge, each move
 * counted, and /readyz says how long the database has been down.
 */
export function startBreaker(
  config: Config['breaker'],
  pool: Pick<SqlClient, 'transaction'>,
  ctx: StartContext,
): Breaker {
  const breaker = createBreaker({
    ...config,
    // A trial of the write path itself, committing nothing: a login, a transaction and the inbox
    // read with its locks. A plain SELECT 1 can pass while writes still fail, and each false close
    // would make every waiting retry due and spend an attempt of each.
    probe: () => pool.transaction((tx) => appliedKeys(tx, [])).then(() => undefined),
    logger: ctx.logger.child({ component: 'breaker' }),
  });
  ctx.closer.add('breaker', () => breaker.close());
  const { metrics } = ctx;
  if (metrics) {
    metrics.gauge(metricNames.breakerState, 'The write path breaker: 1 for its current state.', {
      labelNames: ['state'],
      collect: (g) => {
        for (const s of ['closed', 'half-open', 'open'] as const)
          g.set({ state: s }, breaker.state === s ? 1 : 0);
      },
    });
    metrics.gauge(
      metricNames.breakerOpenSeconds,
      'Seconds the database has been unavailable (the breaker open), 0 while closed.',
      {
        collect: (g) => g.set(breaker.stats().openForMs / 1000),
      },
    );
    const moves = metrics.counter(
      metricNames.breakerTransitions,
      'Moves of the write path breaker, by the state moved to.',
      {
        labelNames: ['to'],
      },
    );
    breaker.onChange((to) => moves.inc({ to }));
  }
  ctx.readiness?.add('breaker', () => {
    const s = breaker.stats();
    if (s.state !== 'closed') {
      throw new Error(
        `${s.state}: database unavailable for ${Math.round(s.openForMs / 1000)} s, ${s.held} messages held`,
      );
    }
  });
  return breaker;
}
