// One way to say things in every script: durations (`30s`, `10m`, a plain number is seconds), rates
// (`50/s`, `600/m`, a plain number is per second), identities (`--as`), and the shared flags.
import type { Principal } from '../../src/identity/roles.ts';
import { type Flag, usageError } from './cli.ts';

const units = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** `30s`, `10m`, `1h`, `250ms`, or a plain number of seconds → milliseconds. */
export function durationMs(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return usageError(`--${flag} must be a duration such as 30s, 10m or 20 (seconds), got ${text}`);
  return Number(m[1]) * units[(m[2] ?? 's') as keyof typeof units];
}

/** `50/s`, `600/m`, or a plain number per second → items per second. */
export function ratePerSec(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(?:\/(s|m|h))?$/.exec(text.trim());
  const rate = m ? (Number(m[1]) * 1000) / units[(m[2] ?? 's') as keyof typeof units] : 0;
  return rate > 0
    ? rate
    : usageError(`--${flag} must be a positive rate such as 50/s, 600/m or 50, got ${text}`);
}

export function positiveInteger(flag: string, text: string): number {
  const n = Number(text);
  return Number.isInteger(n) && n > 0 ? n : usageError(`--${flag} must be a positive integer, got ${text}`);
}

/** A share from 0 to 1. */
export function fraction(flag: string, text: string): number {
  const n = Number(text);
  return text.trim() !== '' && n >= 0 && n <= 1
    ? n
    : usageError(`--${flag} must be a number from 0 to 1, got ${text}`);
}

export function isoDate(flag: string, text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  const d = new Date(text);
  return Number.isNaN(d.getTime())
    ? usageError(`--${flag} must be a date and time (ISO 8601), got ${text}`)
    : d;
}

export function oneOf<const T extends string>(flag: string, text: string, allowed: readonly T[]): T {
  return (allowed as readonly string[]).includes(text)
    ? (text as T)
    : usageError(`--${flag} must be ${allowed.join(', ')}; got ${text}`);
}

/** The identities a script can act as; the scaler is KEDA's and only the doctor tries it. */
export const scriptIdentities = ['worker', 'publisher', 'operator'] as const satisfies readonly Principal[];

export const asFlag = (identities: readonly Principal[], byDefault: Principal, role = 'to act as') =>
  ({
    type: 'string',
    value: identities.join('|'),
    help: `the identity ${role} (default ${byDefault})`,
  }) as const satisfies Flag;

export const jsonFlag = {
  type: 'boolean',
  help: 'prints the result as one JSON document',
} as const satisfies Flag;
export const dryRunFlag = {
  type: 'boolean',
  help: 'lists what it would do, with counts; changes nothing',
} as const satisfies Flag;
export const yesFlag = {
  type: 'boolean',
  help: 'changes everything without asking (needed off a terminal)',
} as const satisfies Flag;
