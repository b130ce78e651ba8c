import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { sendFault } from '../stand-ins/fault-control.ts';
import { startRedisServer } from '../stand-ins/redis-server.ts';
import type { EntityCounts } from '../stand-ins/servicebus/index.ts';
import {
  appliedCount,
  createTestQueue,
  fixtureHandlersEnv,
  grantPublisherOnNamespace,
  inspectRetryQueue,
  publishValidEvents,
} from './retry-fixture.ts';
import { type SystemStack, startSystemStack } from './system-stack.ts';
import { type LogRecord, loggedAt, warningsBetween } from './worker-log.ts';
import { startWorkerProcess, type WorkerProcess } from './worker-process.ts';

/**
 * One local stack for a test file's outages (vitest hooks): after each test the SQL fault is
 * cleared and what it opened is closed, last first, even when it failed half-way.
 */
export function useOutageStack(queue: string): {
  system(): SystemStack;
  onCleanup(close: () => Promise<unknown>): void;
} {
  let system: SystemStack | undefined;
  const cleanups: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    system = await startSystemStack({ queue });
    grantPublisherOnNamespace(system);
  }, 60_000);
  afterEach(async () => {
    system?.stack.sql.faults.clear();
    for (const close of cleanups.splice(0).reverse()) await close().catch(() => undefined);
  });
  afterAll(async () => {
    await system?.close();
  });
  return {
    system() {
      if (!system) throw new Error('the stack is not started');
      return system;
    },
    onCleanup: (close) => cleanups.push(close),
  };
}

/** What the worker logs when its write-path breaker closes and intake runs at full speed again. */
export const breakerClosedMsg = 'database available again: intake resumed';

export type OutageScenario = {
  system: SystemStack;
  /** Events published at the outage's start. */
  burst: number;
  /** How long every SQL login and statement fails with 40613. */
  outageMs: number;
  /** The worker's variables beyond the stack's (retry timings, breaker settings). */
  env: Record<string, string>;
  /** How long after the outage's end the breaker may take to close. */
  closeWithinMs: number;
  /** How long after the breaker closed (or the wait for it ended) the burst may take to drain. */
  drainWithinMs: number;
  /** Takes what must be stopped even when the test fails or times out half-way. */
  onCleanup(close: () => Promise<unknown>): void;
};

export type OutageReport = {
  burst: number;
  /** When the worker logged `breakerClosedMsg`, ms after the outage's start; undefined if never. */
  closedAfterMs: number | undefined;
  /** The end of the window the warnings are counted in: the close, or when the wait for it ended. */
  windowEndAfterMs: number;
  /** From the breaker closing (or the wait for it ending) to nothing left in the queue; undefined if it never drained. */
  drainedAfterMs: number | undefined;
  left: EntityCounts;
  /** `messageId: reason` of each dead letter. */
  deadLetters: string[];
  /** Events of the burst whose effect is committed (rows in dbo.Inbox). */
  applied: number;
  /** Events of the burst completed more than once. */
  completedTwice: string[];
  /** Events of the burst completed on their first delivery. */
  firstDelivery: number;
  /** Defer dispositions on the queue. */
  deferrals: number;
  /** The most retry jobs seen in Redis at once (every state, sampled twice a second). */
  peakRetryJobs: number;
  /** Warning lines (pino level 40 and above) from the outage's start to the window's end. */
  warnings: LogRecord[];
};

const sampleMs = 500;

/**
 * One worker process on its own queue and private Redis; the SQL fault `npm run fault -- sql
 * --seconds N` sets (every login and statement fails with 40613, as during a failover); a burst
 * published at its start. Waits for the breaker to close and the burst to drain, each within its
 * bound, and reports what a user would look at, whether or not it closed.
 */
export async function runOutage(s: OutageScenario): Promise<OutageReport> {
  const { system, burst } = s;
  // A private Redis: its retry jobs are this scenario's alone, and nothing touches the shared 6379.
  const redis = await startRedisServer();
  s.onCleanup(() => redis.close());
  // Service Bus's default lock: a held message waits on renewals, never on a lock too short for a loaded host.
  const queue = createTestQueue(system, { lockDurationMs: 30_000, maxDeliveryCount: 10 });
  const worker = await startWorkerProcess({
    ...system.stack.env('worker'),
    ...fixtureHandlersEnv,
    KEY_VAULT_SECRETS: '',
    SERVICEBUS_QUEUE: queue,
    REDIS_URL: redis.url,
    REDIS_AUTH: 'none',
    SHUTDOWN_GRACE_MS: '5000',
    ...s.env,
  });
  s.onCleanup(() => stopWorker(worker));
  const jobs = inspectRetryQueue(redis.url);
  s.onCleanup(() => jobs.close());
  const publisher = system.publisher();
  s.onCleanup(() => publisher.close());

  let sampling = true;
  let peakRetryJobs = 0;
  const sampler = (async () => {
    while (sampling) {
      const counts = await jobs.queue.getJobCounts().catch(() => ({}));
      peakRetryJobs = Math.max(
        peakRetryJobs,
        Object.values(counts).reduce((a, b) => a + b, 0),
      );
      await sleep(sampleMs);
    }
  })();

  const start = Date.now();
  await sendFault(system.stack.file.control, {
    service: 'sql',
    seconds: s.outageMs / 1000,
    share: 1,
    errorNumber: 40613,
  });
  const ids = await publishValidEvents(publisher, queue, burst);

  const running = () => worker.child.exitCode === null;
  const closeBy = start + s.outageMs + s.closeWithinMs;
  let closedAt: number | undefined;
  while (closedAt === undefined && Date.now() < closeBy && running()) {
    await sleep(250);
    closedAt = loggedAt(worker.output(), breakerClosedMsg, start);
  }
  const windowEnd = closedAt ?? Date.now();
  const counts = () => system.stack.serviceBus.counts(queue);
  const drainBy = Date.now() + s.drainWithinMs;
  const inQueue = () => {
    const c = counts();
    return c.active + c.locked + c.deferred + c.scheduled;
  };
  while (inQueue() > 0 && Date.now() < drainBy && running()) await sleep(250);
  const drainedAfterMs = inQueue() === 0 ? Date.now() - windowEnd : undefined;
  sampling = false;
  await sampler;
  // A worker that died early ends the waits before the outage does: the checks below need SQL.
  await sleep(Math.max(0, start + s.outageMs - Date.now()));

  const burstIds = new Set(ids);
  const completions = system.stack.serviceBus.completions(queue).filter((c) => burstIds.has(c.messageId));
  const times = new Map<string, number>();
  for (const c of completions) times.set(c.messageId, (times.get(c.messageId) ?? 0) + 1);
  const report: OutageReport = {
    burst,
    closedAfterMs: closedAt === undefined ? undefined : closedAt - start,
    windowEndAfterMs: windowEnd - start,
    drainedAfterMs,
    left: counts(),
    deadLetters: system.stack.serviceBus.deadLetters(queue).map((d) => `${d.messageId}: ${d.reason}`),
    applied: await appliedCount(system, ids),
    completedTwice: [...times].filter(([, n]) => n > 1).map(([id]) => id),
    firstDelivery: completions.filter((c) => c.deliveries === 1).length,
    deferrals: system.stack.serviceBus.deferrals(queue),
    peakRetryJobs,
    warnings: warningsBetween(worker.output(), start, windowEnd),
  };
  await stopWorker(worker);
  return report;
}

/** SIGTERM, and SIGKILL if it has not exited after its grace time and a margin. */
async function stopWorker(worker: WorkerProcess): Promise<void> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  worker.child.kill('SIGTERM');
  const killer = setTimeout(() => worker.child.kill('SIGKILL'), 10_000);
  await worker.exited;
  clearTimeout(killer);
}
