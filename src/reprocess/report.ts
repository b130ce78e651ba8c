import { formatCounts, type ReprocessProgress, type ReprocessSummary } from './run.ts';

type Out = Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean };

/** A progress bar on a terminal; on anything else a plain line every `every` items and at the end. */
export function createProgressPrinter(out: Out, every = 100): (p: ReprocessProgress) => void {
  return ({ done, total, counts }) => {
    if (out.isTTY) {
      const width = 30;
      const filled = total ? Math.round((Math.min(done, total) / total) * width) : width;
      out.write(
        `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}  ${formatCounts(counts)}`,
      );
      if (done === total) out.write('\n');
    } else if (done % every === 0 || done === total) {
      out.write(`${done}/${total}: ${formatCounts(counts)}\n`);
    }
  };
}

/** The summary line: `dlq: replayed 3, failed 1` (or `dlq (dry run): would-replay 4`). */
export const formatSummary = (what: string, s: ReprocessSummary): string =>
  `${what}${s.dryRun ? ' (dry run, nothing changed)' : ''}${s.interrupted ? ' (interrupted)' : ''}: ${formatCounts(s.counts)}`;

/** 0 when everything selected was handled; 1 when anything failed; 130 when interrupted. */
export const exitCodeOf = (s: ReprocessSummary): number =>
  s.failures.length > 0 ? 1 : s.interrupted ? 130 : 0;
