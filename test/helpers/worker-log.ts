/** One record of a worker's pino JSON output. */
export type LogRecord = { level: number; time: number; msg: string };

/** pino's numeric level of `warn`: warnings and everything above (error, fatal). */
export const warnLevel = 40;

const parse = (line: string): LogRecord | undefined => {
  if (!line.startsWith('{')) return undefined;
  try {
    const r = JSON.parse(line) as { level?: unknown; time?: unknown; msg?: unknown };
    const time = typeof r.time === 'string' ? Date.parse(r.time) : Number(r.time);
    if (typeof r.level !== 'number' || !Number.isFinite(time)) return undefined;
    return { level: r.level, time, msg: typeof r.msg === 'string' ? r.msg : '' };
  } catch {
    return undefined;
  }
};

/**
 * The pino records in what a worker printed. Lines that are not its JSON (a Node warning on
 * stderr) and a last line still being written are skipped.
 */
export function logRecords(output: string): LogRecord[] {
  const records: LogRecord[] = [];
  for (const line of output.split('\n')) {
    const record = parse(line);
    if (record) records.push(record);
  }
  return records;
}

/** When the worker first logged `msg` (epoch ms), at or after `fromMs`; undefined if it has not. */
export function loggedAt(output: string, msg: string, fromMs = 0): number | undefined {
  // A substring search first: the output of an outage can be megabytes, polled several times a second.
  if (!output.includes(`"msg":${JSON.stringify(msg)}`)) return undefined;
  return logRecords(output).find((r) => r.msg === msg && r.time >= fromMs)?.time;
}

/** Records at warn level or above logged from `fromMs` to `toMs`, both included. */
export function warningsBetween(output: string, fromMs: number, toMs: number): LogRecord[] {
  return logRecords(output).filter((r) => r.level >= warnLevel && r.time >= fromMs && r.time <= toMs);
}

/** How many records carry each message, most frequent first: what a flood was made of. */
export function tallyByMessage(records: readonly LogRecord[]): [msg: string, count: number][] {
  const counts = new Map<string, number>();
  for (const r of records) counts.set(r.msg, (counts.get(r.msg) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]);
}
