import { type DestinationStream, type Logger, pino } from 'pino';
import { formatLogLine } from './log-format.ts';

export type LoggerOptions = {
  /** Short one-line records for a person at a terminal instead of JSON. @defaultValue false */
  pretty?: boolean;
  /** ANSI colours in pretty records; only for a TTY. @defaultValue false */
  color?: boolean;
  /** @defaultValue stdout */
  out?: { write(text: string): unknown };
  /** Fields added to every line, such as the active span's trace ids (telemetry's `traceFields`). @defaultValue none */
  mixin?: () => object;
};

/**
 * JSON logs on stdout. Tokens and secrets must never reach a log: the paths that could carry one
 * are redacted as a second line of defence, not as the first.
 */
export function createLogger(
  level: string,
  base: Record<string, unknown> = {},
  options: LoggerOptions = {},
): Logger {
  const out = options.out;
  const color = options.color ?? false;
  // JSON to stdout goes through pino's own synchronous writer, so the last line before exit is kept.
  const destination: DestinationStream = options.pretty
    ? {
        write: (line: string) =>
          (out ?? process.stdout).write(`${formatLogLine(line.trimEnd(), { color })}\n`),
      }
    : out
      ? { write: (line: string) => out.write(line) }
      : pino.destination({ fd: 1, sync: true });
  return pino(
    {
      level,
      base: { service: 'keyless-worker', ...base },
      redact: {
        paths: [
          'token',
          '*.token',
          'accessToken',
          '*.accessToken',
          'password',
          '*.password',
          'authorization',
          '*.authorization',
          'headers.authorization',
          'value',
          'secret.value',
        ],
        censor: '[redacted]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
      // The default serializer appends the cause's message to the error's own: an error that copied
      // its cause's text (a SqlError from a driver error) would carry it twice. The cause stays nested.
      serializers: { err: pino.stdSerializers.errWithCause },
      ...(options.mixin ? { mixin: options.mixin } : {}),
    },
    destination,
  );
}

const levels: ReadonlySet<string | symbol> = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace']);
const noop = () => {};

/**
 * A child logger made on its first enabled log call. A pino child serialises (and redacts) its
 * bindings when it is made; one per message costs that on every message, although most messages
 * log nothing at the configured level.
 */
export function lazyChild(parent: Logger, bindings: () => Record<string, unknown>): Logger {
  let child: Logger | undefined;
  const real = (): Logger => {
    child ??= parent.child(bindings());
    return child;
  };
  return new Proxy(parent, {
    get(_, prop) {
      if (child === undefined && levels.has(prop) && !parent.isLevelEnabled(prop as string)) return noop;
      const value = Reflect.get(real(), prop);
      return typeof value === 'function' ? value.bind(real()) : value;
    },
  });
}

/** For components whose logger is optional: every call is a no-op. */
export const silentLogger: Logger = pino({ level: 'silent' });
