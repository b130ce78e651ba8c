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
