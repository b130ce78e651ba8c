import { describe, expect, it } from 'vitest';
import { defaults } from '../../src/defaults.ts';
import { delayBoundMs } from '../../src/retry/backoff.ts';
import {
  breakerClosedMsg,
  type OutageReport,
  runOutage,
  useOutageStack,
} from '../helpers/outage-scenario.ts';
import { tallyByMessage } from '../helpers/worker-log.ts';

// A worker process meets a database outage as an operator would: the SQL fault of
// `npm run fault -- sql --seconds N` (every login and statement fails with 40613) and a burst
// published at its start. Invariant 7: the backlog waits in Service Bus with its delivery counts
// untouched, no retry attempt is spent against the down database, and the logs stay quiet.
// The assertions are soft: a failing run reports every figure, not only the first that is off.

/** SERVICEBUS_CONCURRENCY is left at its default: the most a worker holds, hence may defer. */
const creditWindow = defaults.serviceBusConcurrency;
const warningLinesMax = 10;
// The probe interval grows to BREAKER_PROBE_MAX_MS: 5 s instead of 30 s bounds how long after the
// outage the breaker notices it is over, which is all it changes here, and keeps each case short.
const probeMaxMs = 5_000;
const closeWithinMs = probeMaxMs + 10_000;
// At the main path's speed 5,000 events take seconds (docs/benchmarks.md); 40 s leaves room for a
// loaded host while a recovery one retry job at a time (about 70 msg/s) cannot make it.
const drainWithinMs = 40_000;

const stack = useOutageStack('orders-outage');

const seconds = (ms: number | undefined) => (ms === undefined ? 'never' : `${(ms / 1000).toFixed(1)} s`);

const describeReport = (r: OutageReport): string =>
  [
    `breaker closed: ${seconds(r.closedAfterMs)} after the outage's start`,
    `drained: ${seconds(r.drainedAfterMs)} after that`,
    `applied ${r.applied} of ${r.burst}`,
    `first delivery ${r.firstDelivery}`,
    `defers ${r.deferrals}`,
    `peak retry jobs ${r.peakRetryJobs}`,
    `dead letters ${r.deadLetters.length}`,
    `warnings ${r.warnings.length}`,
    `left ${JSON.stringify(r.left)}`,
  ].join('; ');

/** The breaker closed, and every event of the burst is applied once with nothing given up. */
function expectRecovered(r: OutageReport, outageMs: number): void {
  expect
    .soft(
      r.closedAfterMs,
      `the worker never logged "${breakerClosedMsg}" within ${closeWithinMs / 1000} s of the outage's end (${outageMs / 1000} s)`,
    )
    .toBeDefined();
  expect
    .soft(r.deadLetters.length, `dead-lettered events, e.g. ${r.deadLetters.slice(0, 3).join('; ')}`)
    .toBe(0);
  expect
    .soft(
      r.applied,
      `events of the burst applied (dbo.Inbox rows) within ${drainWithinMs / 1000} s of the breaker closing (or of the wait for it ending); left in the queue ${JSON.stringify(r.left)}`,
    )
    .toBe(r.burst);
  expect.soft(r.completedTwice.length, 'events of the burst completed more than once').toBe(0);
}

const runCase = async (
  burst: number,
  outageMs: number,
  env: Record<string, string>,
): Promise<OutageReport> => {
  const report = await runOutage({
    system: stack.system(),
    burst,
    outageMs,
    env: { BREAKER_PROBE_MAX_MS: String(probeMaxMs), ...env },
    closeWithinMs,
    drainWithinMs,
    onCleanup: stack.onCleanup,
  });
  console.log(`outage of ${outageMs / 1000} s, burst of ${burst}: ${describeReport(report)}`);
  return report;
};

describe('a worker during a database outage', () => {
  it('keeps a burst in Service Bus through a 60 s outage and applies it all once, first delivery, with a quiet log', async () => {
    // Retry timings at their defaults; BREAKER_HOLD_MAX_MS at its default (120 s) outlasts the outage.
    const burst = 5_000;
    const r = await runCase(burst, 60_000, {});
    expectRecovered(r, 60_000);
    const share = ((100 * r.firstDelivery) / burst).toFixed(1);
    expect
      .soft(
        r.firstDelivery,
        `events completed on their first delivery (delivery count 1): ${r.firstDelivery} of ${burst} (${share} %), at least 99 % required`,
      )
      .toBeGreaterThanOrEqual(Math.ceil(burst * 0.99));
    expect
      .soft(
        r.deferrals,
        `defer dispositions, at most one credit window (SERVICEBUS_CONCURRENCY ${creditWindow})`,
      )
      .toBeLessThanOrEqual(creditWindow);
    expect
      .soft(r.peakRetryJobs, `retry jobs in Redis at once, at most one credit window (${creditWindow})`)
      .toBeLessThanOrEqual(creditWindow);
    const until = r.closedAfterMs === undefined ? 'the end of the wait for it' : 'the breaker closing';
    const top = tallyByMessage(r.warnings)
      .slice(0, 5)
      .map(([msg, n]) => `${n}× "${msg}"`)
      .join(', ');
    expect
      .soft(
        r.warnings.length,
        `warning lines (level ≥ 40) from the outage's start to ${until} (${seconds(r.windowEndAfterMs)}): ${top}`,
      )
      .toBeLessThanOrEqual(warningLinesMax);
  }, 180_000);

  it('dead-letters nothing of a credit window held through an outage longer than the whole retry budget', async () => {
    // One credit window: the worker holds every event of it when the breaker opens, and each goes
    // the retry tier's way BREAKER_HOLD_MAX_MS (5 s) in. Its whole budget, were it spent against the
    // down database: 6 deliveries (the first and 5 delayed attempts), each with 2 immediate retries
    // waiting at most 0.2 + 0.4 s, and delays of at most 0.5 + 1 + 2 × 3 = 7.5 s between them:
    // 11.1 s, over by about 16 s into a 30 s outage. RETRY_CONCURRENCY 32 lets the retry worker run
    // all those attempts in that time (at 4 it could not), so only a paused retry worker keeps them.
    const burst = creditWindow;
    const retry = { baseDelayMs: 500, factor: 2, maxDelayMs: 2_000, maxAttempts: 5 };
    const immediate = { attempts: 2, delayMs: 200 };
    const holdMaxMs = 5_000;
    const outageMs = 30_000;
    const delaysMs = Array.from({ length: retry.maxAttempts }, (_, i) => delayBoundMs(i + 1, retry));
    const immediateMs = Array.from({ length: immediate.attempts }, (_, i) => immediate.delayMs * 2 ** i);
    const budgetMs =
      delaysMs.reduce((a, b) => a + b) + (retry.maxAttempts + 1) * immediateMs.reduce((a, b) => a + b);
    expect(holdMaxMs + budgetMs, 'hold plus the whole retry budget, in ms').toBeLessThan(outageMs * 0.6);
    const r = await runCase(burst, outageMs, {
      RETRY_IMMEDIATE_ATTEMPTS: String(immediate.attempts),
      RETRY_IMMEDIATE_DELAY_MS: String(immediate.delayMs),
      RETRY_BASE_DELAY_MS: String(retry.baseDelayMs),
      RETRY_FACTOR: String(retry.factor),
      RETRY_MAX_DELAY_MS: String(retry.maxDelayMs),
      RETRY_MAX_ATTEMPTS: String(retry.maxAttempts),
      RETRY_CONCURRENCY: '32',
      BREAKER_HOLD_MAX_MS: String(holdMaxMs),
    });
    expect
      .soft(
        r.peakRetryJobs,
        `retry jobs in Redis: held events go the retry tier's way after BREAKER_HOLD_MAX_MS (${holdMaxMs} ms)`,
      )
      .toBeGreaterThan(0);
    expectRecovered(r, outageMs);
  }, 160_000);
});
