import type { Logger } from 'pino';

/** What a repeating failure says: when it starts, while it lasts, when it ends. */
export type FailureEpisodeLines = { started: string; ongoing: string; ended: string };

/** One failure that may repeat thousands of times, logged as an episode rather than a line each. */
export type FailureEpisode = {
  /** A failure: the first of an episode is a WARN with its error; the rest are counted. */
  failed(error: unknown, fields?: Record<string, unknown>): void;
  /** The same operation went through: ends an episode with one INFO, else costs nothing. */
  succeeded(): void;
};

/**
 * Logs a failure that repeats per message the way a person reading the log at 3 a.m. needs it: one
 * WARN when it starts (with the error), at most one WARN summary per `summaryMs` while it lasts
 * (how long, how many), one INFO when it ends. No timer: a summary is written by the failure that
 * finds the last line old enough.
 */
export function createFailureEpisode(
  logger: Pick<Logger, 'warn' | 'info'>,
  lines: FailureEpisodeLines,
  options: { summaryMs?: number; now?: () => number } = {},
): FailureEpisode {
  const summaryMs = options.summaryMs ?? 30_000;
  const now = options.now ?? Date.now;
  let startedAt: number | undefined;
  let failures = 0;
  let lastLineAt = 0;
  let sinceLastLine = 0;
  return {
    failed(error, fields) {
      const t = now();
      failures++;
      if (startedAt === undefined) {
        startedAt = lastLineAt = t;
        sinceLastLine = 0;
        logger.warn({ ...fields, err: error }, lines.started);
        return;
      }
      sinceLastLine++;
      if (t - lastLineAt < summaryMs) return;
      const message = error instanceof Error ? error.message : String(error);
      logger.warn({ forMs: t - startedAt, failures, sinceLastLine, error: message }, lines.ongoing);
      lastLineAt = t;
      sinceLastLine = 0;
    },
    succeeded() {
      if (startedAt === undefined) return;
      logger.info({ forMs: now() - startedAt, failures }, lines.ended);
      startedAt = undefined;
      failures = 0;
    },
  };
}
