import { type Logger, pino } from 'pino';

/**
 * JSON logs on stdout. Tokens and secrets must never reach a log: the paths that could carry one
 * are redacted as a second line of defence, not as the first.
 */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({
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
  });
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
