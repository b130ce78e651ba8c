import { parseExposition } from './prometheus-text.ts';

/** The pipeline's totals as a worker's /metrics shows them at one moment. */
export type PipelineStatus = {
  at: number;
  received: number;
  completed: number;
  deadLettered: number;
  /** Messages waiting for a delayed retry now: the retry queue's depth (0 without a retry tier). */
  retrying: number;
  /** Handed back for another attempt so far: abandoned, plus deferred when the retry tier counts it. */
  retried: number;
  inFlight: number;
  /** Seconds the database has been unavailable (the breaker open); 0 while it is closed. */
  pausedSeconds: number;
  /** Sums of the end-to-end lag histogram, for the average over an interval. */
  lagSumSeconds: number;
  lagCount: number;
};

/** Reads a PipelineStatus from a worker's `/metrics`. */
export async function readStatus(metricsUrl: string, signal?: AbortSignal): Promise<PipelineStatus> {
  const res = await fetch(metricsUrl, { signal: signal ?? AbortSignal.timeout(2_000) });
  if (!res.ok) throw new Error(`${metricsUrl} answered ${res.status}`);
  const m = parseExposition(await res.text());
  return {
    at: Date.now(),
    received: m.sum('keyless_messages_received_total'),
    completed: m.sum('keyless_messages_completed_total'),
    deadLettered: m.sum('keyless_messages_dead_lettered_total'),
    retrying: m.sum('keyless_retry_queue_depth'),
    retried: m.sum('keyless_messages_abandoned_total') + m.sum('keyless_messages_deferred_total'),
    inFlight: m.sum('keyless_messages_in_flight'),
    pausedSeconds:
      m.sum('keyless_breaker_state', { state: 'closed' }) === 1 ? 0 : m.sum('keyless_breaker_open_seconds'),
    lagSumSeconds: m.sum('keyless_end_to_end_lag_seconds_sum'),
    lagCount: m.sum('keyless_end_to_end_lag_seconds_count'),
  };
}

const count = (n: number): string => n.toLocaleString('en-US');

const duration = (seconds: number): string => {
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  return `${(seconds / 60).toFixed(1)} min`;
};

/** One status line: totals, and the rate and average lag since the previous status. */
export function formatStatus(now: PipelineStatus, previous: PipelineStatus | undefined): string {
  const parts = [
    `received ${count(now.received)}`,
    `completed ${count(now.completed)}`,
    `dead-lettered ${count(now.deadLettered)}`,
    `retrying ${count(now.retrying)}`,
  ];
  if (now.pausedSeconds > 0) parts.push(`paused: database unavailable ${Math.round(now.pausedSeconds)} s`);
  if (previous && now.at > previous.at) {
    const rate = ((now.completed - previous.completed) * 1000) / (now.at - previous.at);
    parts.push(`${rate < 10 ? rate.toFixed(1) : count(Math.round(rate))} msg/s`);
    const lagged = now.lagCount - previous.lagCount;
    parts.push(`lag ${lagged > 0 ? duration((now.lagSumSeconds - previous.lagSumSeconds) / lagged) : '-'}`);
  }
  return parts.join('  ');
}

/**
 * What is printed when `npm start` ends: the totals of the run, with how often a message was handed
 * back for another attempt (the status line shows what waits for a retry now instead).
 */
export function formatTotals(last: PipelineStatus, startedAt: number): string {
  const lag = last.lagCount > 0 ? `, average lag ${duration(last.lagSumSeconds / last.lagCount)}` : '';
  return (
    `totals over ${duration((last.at - startedAt) / 1000)}: received ${count(last.received)}, ` +
    `completed ${count(last.completed)}, dead-lettered ${count(last.deadLettered)}, ` +
    `deferred or abandoned ${count(last.retried)}${lag}`
  );
}

/**
 * A line at the bottom of a terminal that is redrawn in place; other output is printed above it.
 * Only for a TTY: on a pipe or a file nothing is redrawn.
 */
export type StatusLine = {
  show(text: string): void;
  /** Prints a line above the status line. */
  print(line: string): void;
  clear(): void;
};

export function createStatusLine(
  status: { write(text: string): unknown },
  out: { write(text: string): unknown },
): StatusLine {
  let current = '';
  const erase = () => {
    if (current) status.write('\r\x1b[K');
  };
  return {
    show(text) {
      erase();
      current = text;
      status.write(text);
    },
    print(line) {
      erase();
      out.write(`${line}\n`);
      if (current) status.write(current);
    },
    clear() {
      erase();
      current = '';
    },
  };
}
