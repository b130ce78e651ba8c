/** What a terminal shows of a pino JSON record: one short line, coloured only when asked. */
export type PrettyOptions = { color: boolean };

const levels: Record<number, { name: string; color: string }> = {
  10: { name: 'TRACE', color: '90' },
  20: { name: 'DEBUG', color: '36' },
  30: { name: 'INFO ', color: '32' },
  40: { name: 'WARN ', color: '33' },
  50: { name: 'ERROR', color: '31' },
  60: { name: 'FATAL', color: '35' },
};

// Present on every line or said by the level and time already: noise on a terminal.
const hidden = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'service', 'component', 'v', 'name']);

const paint = (on: boolean, code: string, text: string): string =>
  on ? `\x1b[${code}m${text}\x1b[0m` : text;

const value = (v: unknown): string => {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  if (v && typeof v === 'object') {
    const err = v as { type?: unknown; message?: unknown; code?: unknown };
    if (typeof err.message === 'string' && ('stack' in v || 'type' in v)) {
      return JSON.stringify(
        `${err.type ?? 'Error'}${err.code ? ` ${String(err.code)}` : ''}: ${err.message}`,
      );
    }
    return JSON.stringify(v);
  }
  return String(v);
};

const clock = (time: unknown): string => {
  const d = typeof time === 'string' || typeof time === 'number' ? new Date(time) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d.toISOString().slice(11, 23) : '--:--:--.---';
};

/** Formats one record; a line that is not a JSON object comes back as it was. */
export function formatLogLine(line: string, options: PrettyOptions): string {
  let record: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return line;
    record = parsed as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = levels[Number(record.level)] ?? { name: String(record.level ?? '?').padEnd(5), color: '0' };
  const who = record.component ?? record.name;
  const fields = Object.entries(record)
    .filter(([k, v]) => !hidden.has(k) && v !== undefined)
    .map(([k, v]) => `${paint(options.color, '2', `${k}=`)}${value(v)}`);
  return [
    paint(options.color, '90', clock(record.time)),
    paint(options.color, level.color, level.name),
    ...(who ? [paint(options.color, '34', String(who))] : []),
    String(record.msg ?? ''),
    ...fields,
  ].join(' ');
}
