import type { ServiceBusSender } from '@azure/service-bus';
import { sendFault } from '../../test/stand-ins/fault-control.ts';
import type { BenchStack } from './bench-stack.ts';
import { appliedFrom, benchType, publishBacklog } from './load.ts';
import { type Disturbance, othersShare, readDisturbance } from './proc.ts';
import { startProgram } from './run-configuration.ts';

const say = (line: string) => console.error(`[bench] ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const thousands = (n: number) => n.toLocaleString('en-US');
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const resumedLine = '"msg":"database available again: intake resumed"';
const sources = {
  warmUp: '/bench/outage/warm-up',
  clean: '/bench/outage/clean',
  outage: '/bench/outage/down',
};

/** Lines the worker logged at warn or above, by their own time (epoch ms), and when the breaker closed. */
type WorkerLog = { warnings: number[]; closedAtMs?: number };

const watch = (log: WorkerLog) => (line: string) => {
  const level = Number(/"level":(\d+)/.exec(line)?.[1] ?? 0);
  const time = Number(/"time":(\d+)/.exec(line)?.[1] ?? Date.now());
  if (level >= 40) log.warnings.push(time);
  if (line.includes(resumedLine)) log.closedAtMs ??= time;
};

/**
 * Publishes a burst that the broker holds until one moment (scheduled enqueue), so that it appears
 * at once however long publishing took; returns that moment (epoch ms).
 */
async function scheduleBurst(
  bench: BenchStack,
  sender: ServiceBusSender,
  queue: string,
  options: { count: number; source: string; marginMs: number },
): Promise<number> {
  const at = Date.now() + options.marginMs;
  await publishBacklog(sender, options.count, { source: options.source, at: new Date(at) });
  const { scheduled } = bench.stack.serviceBus.counts(queue);
  if (Date.now() >= at || scheduled < options.count)
    throw new Error(
      `publishing ${options.count} events took longer than ${options.marginMs} ms; try a smaller --burst`,
    );
  return at;
}

/**
 * Waits until every event from `source` is applied, or all not applied are dead-lettered, or
 * `timeoutMs`. The inbox is asked only once the broker has completed or dead-lettered `settled`
 * messages in all (the earlier bursts' with this one's), so that the bench's queries neither load
 * the database while the worker drains nor meet the fault.
 */
async function applied(
  bench: BenchStack,
  queue: string,
  options: { source: string; count: number; settled: number; timeoutMs: number },
): Promise<{ count: number; firstMs: number; lastMs: number; deadLettered: number }> {
  const deadline = Date.now() + options.timeoutMs;
  const { serviceBus } = bench.stack;
  for (;;) {
    const { deadLettered } = serviceBus.counts(queue);
    const settled = serviceBus.completedMessageIds(queue).length + deadLettered >= options.settled;
    const late = Date.now() > deadline;
    // A query that meets the end of the fault is asked again; only a late one fails the case.
    const ask = () => appliedFrom(bench.pool, options.source);
    const now = late ? await ask() : settled ? await ask().catch(() => undefined) : undefined;
    if (now && (now.count + deadLettered >= options.count || late)) return { ...now, deadLettered };
    await sleep(100);
  }
}

/**
 * Issue 15's case: a warm worker at its defaults drains a burst with the database up, then the same
 * burst while the database is down (`npm run fault -- sql` for `downSeconds` from the burst's
 * start). Prints both drains: the clean one, and the time from the breaker closing (or, with no
 * breaker, the fault's end) to the burst's last event applied.
 */
export async function runOutage(
  bench: BenchStack,
  options: { burst: number; downSeconds: number; warmUp: number; retryPath: boolean },
): Promise<void> {
  const { burst, downSeconds, warmUp, retryPath } = options;
  // The retry path's own throughput: every event deferred (no breaker to hold them), every retry
  // due within a second of the fault's end, so that the drain measures the path, not the backoff.
  const retryPathEnv: Record<string, string> = retryPath
    ? {
        BREAKER_THRESHOLD: '0',
        RETRY_BASE_DELAY_MS: '1000',
        RETRY_MAX_DELAY_MS: '1000',
        RETRY_RECONCILE_MS: '600000',
      }
    : {};
  const queue = bench.newQueue('bench-outage');
  const sender = bench.publisher.createSender(queue);
  const log: WorkerLog = { warnings: [] };
  const child = await startProgram(
    { name: 'outage', program: 'worker', onLine: watch(log) },
    { ...bench.env, ...retryPathEnv, SERVICEBUS_QUEUE: queue },
  );
  const exited = new Promise((r) => child.once('exit', r));
  try {
    // The same process drains both bursts: the warm-up takes the JIT's and the connections' start
    // out of the clean drain, which the outage's recovery would not carry either.
    say(`warm-up: ${warmUp} events`);
    const publishStarted = Date.now();
    await publishBacklog(sender, warmUp, { source: sources.warmUp });
    const marginMs = Math.max(1_000, (2 * (Date.now() - publishStarted) * burst) / warmUp);
    await applied(bench, queue, {
      source: sources.warmUp,
      count: warmUp,
      settled: warmUp,
      timeoutMs: 300_000,
    });

    say(`clean drain: ${burst} events`);
    const cleanAt = await scheduleBurst(bench, sender, queue, {
      count: burst,
      source: sources.clean,
      marginMs,
    });
    await sleep(cleanAt - Date.now());
    const cleanFrom = readDisturbance();
    const clean = await applied(bench, queue, {
      source: sources.clean,
      count: burst,
      settled: warmUp + burst,
      timeoutMs: 300_000,
    });
    const cleanOthers = othersShare(cleanFrom, readDisturbance());

    say(`outage: ${burst} events, SQL down for ${downSeconds} s from their start`);
    const downAt = await scheduleBurst(bench, sender, queue, {
      count: burst,
      source: sources.outage,
      marginMs,
    });
    // Just before the burst appears, so that its first batch meets the fault.
    await sleep(downAt - 100 - Date.now());
    const fault = await sendFault(bench.stack.file.control, {
      service: 'sql',
      seconds: Math.round((downAt - Date.now()) / 100) / 10 + downSeconds,
      share: 1,
      errorNumber: 40613,
    });
    say(fault.set);
    const faultEndMs = Date.parse(fault.endsAt ?? '');
    let peakDeferred = 0;
    const sampling = setInterval(() => {
      peakDeferred = Math.max(peakDeferred, bench.stack.serviceBus.counts(queue).deferred);
    }, 100);
    let afterFault: Disturbance | undefined;
    const atFaultEnd = setTimeout(() => {
      afterFault = readDisturbance();
    }, faultEndMs - Date.now());
    const down = await applied(bench, queue, {
      source: sources.outage,
      count: burst,
      settled: warmUp + 2 * burst,
      timeoutMs: 900_000,
    }).finally(() => {
      clearInterval(sampling);
      clearTimeout(atFaultEnd);
    });
    const recoveryOthers = afterFault ? othersShare(afterFault, readDisturbance()) : Number.NaN;

    const recoveryFrom = log.closedAtMs ?? faultEndMs;
    const cleanMs = clean.lastMs - cleanAt;
    const recoveryMs = down.lastMs - recoveryFrom;
    const warnings = log.warnings.filter((t) => t >= downAt - 100 && t <= recoveryFrom).length;
    const line = (what: string, value: string) => console.log(`  ${what.padEnd(50)} ${value}`);
    console.log(
      `${new Date().toISOString()}, Node ${process.version}; one worker at its defaults, warmed up by ${thousands(warmUp)} events first`,
    );
    console.log(
      `Outage case${retryPath ? ', through the retry path (breaker held off, retries due within 1 s)' : ''}: a burst of ${thousands(burst)} ${benchType} events; SQL fails every login and statement with 40613 for ${downSeconds} s from the burst's start.`,
    );
    line(
      'clean drain: burst appears → last event applied',
      `${seconds(cleanMs)}   ${(burst / (cleanMs / 1000)).toFixed(0)} msgs/s`,
    );
    if (log.closedAtMs !== undefined) {
      line('fault ends → breaker closes', seconds(log.closedAtMs - faultEndMs));
      line('recovery: breaker closes → last event applied', seconds(recoveryMs));
    } else {
      line('breaker', 'none closed (no "database available again" line)');
      line('recovery: fault ends → last event applied', seconds(recoveryMs));
    }
    const recoveryRate = down.count / ((down.lastMs - down.firstMs) / 1000);
    line(
      'first event applied after recovery start',
      `${seconds(down.firstMs - recoveryFrom)}, then ${recoveryRate.toFixed(0)} msgs/s`,
    );
    line(
      `${retryPath ? 'retry path' : 'recovery'} msgs/s ÷ clean drain msgs/s`,
      `${(recoveryRate / (burst / (cleanMs / 1000))).toFixed(2)} ×`,
    );
    if (down.count < burst)
      line(
        'not applied',
        `${thousands(burst - down.count)} of ${thousands(burst)} (${thousands(down.deadLettered)} dead-lettered)`,
      );
    console.log(
      `  ${'recovery ÷ clean drain'.padEnd(50)} ${(recoveryMs / cleanMs).toFixed(2)} ×   target ≤ 1.2`,
    );
    line('deferred at once, at most', thousands(peakDeferred));
    line('dead-lettered', thousands(down.deadLettered));
    line('warning lines, outage start → recovery start', thousands(warnings));
    const share = (n: number) => `${Number.isFinite(n) ? (n * 100).toFixed(0) : '-'} %`;
    line(
      'other processes, share of the cores',
      `${share(cleanOthers)} in the clean drain, ${share(recoveryOthers)} from the fault's end on`,
    );
  } finally {
    child.kill('SIGTERM');
    await exited;
    await sender.close();
  }
}
