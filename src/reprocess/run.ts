import { setTimeout as sleep } from 'node:timers/promises';

/** What every reprocess sub-command takes besides its filters. */
export type ReprocessOptions = {
  /** List what would be done, with counts; change nothing. @defaultValue false */
  dryRun?: boolean;
  /** Act on at most this many items. @defaultValue no limit */
  max?: number;
  /** Items per second at most. @defaultValue no limit */
  ratePerSec?: number;
  /** Stops after the item in hand; what is not done yet stays as it was. */
  signal?: AbortSignal;
  /** Called after each item (a progress bar, plain lines). */
  onProgress?: (progress: ReprocessProgress) => void;
  /** Called once per item in a dry run, with what would be done to it. */
  onPlan?: (line: string) => void;
};

export type ReprocessProgress = { done: number; total: number; counts: Readonly<Record<string, number>> };

/** Counts per outcome (`replayed`, `skipped-duplicate-window`, `failed`, …) and the failures' reasons. */
export type ReprocessSummary = {
  dryRun: boolean;
  counts: Record<string, number>;
  failures: { id: string; error: string }[];
  /** The signal stopped the run before every selected item was handled. */
  interrupted: boolean;
};

/** The outcome tally of one run, with the progress callback and the rate limit applied per item. */
export function createTally(options: ReprocessOptions, total: number) {
  const summary: ReprocessSummary = {
    dryRun: options.dryRun ?? false,
    counts: {},
    failures: [],
    interrupted: false,
  };
  let done = 0;
  let next = 0;
  const spacingMs = options.ratePerSec ? 1000 / options.ratePerSec : 0;
  return {
    summary,
    /** False once the signal fired: the caller stops before the next item. */
    get go(): boolean {
      if (options.signal?.aborted) summary.interrupted = true;
      return !summary.interrupted;
    },
    /** Waits for the rate limit before acting on the next item. */
    async pace(): Promise<void> {
      if (!spacingMs) return;
      const now = Date.now();
      if (next > now) await sleep(next - now);
      next = Math.max(now, next) + spacingMs;
    },
    count(outcome: string, failure?: { id: string; error: unknown }): void {
      summary.counts[outcome] = (summary.counts[outcome] ?? 0) + 1;
      if (failure) {
        const e = failure.error;
        summary.failures.push({ id: failure.id, error: e instanceof Error ? e.message : String(e) });
      }
      done += 1;
      options.onProgress?.({ done, total, counts: summary.counts });
    },
  };
}

/** `replayed 3, failed 1` — the summary line's counts, in a stable order. */
export const formatCounts = (counts: Readonly<Record<string, number>>): string =>
  Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'nothing selected';
