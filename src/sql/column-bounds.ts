import { z } from 'zod';

/*
 * Schemas for values that end in a SQL column, each refusing what the column would alter
 * (invariant 6: stored as sent, or not at all). SQL Server's `OPENJSON … WITH` truncates a long
 * string and rounds extra decimals without an error, so the bound must be checked before the write.
 */

/** The range of SQL Server's INT. */
export const intRange = { min: -2147483648, max: 2147483647 } as const;

/**
 * An NVARCHAR(n) value. `n` counts UTF-16 code units (a character outside the Basic Multilingual
 * Plane takes two), which is what a JS string's `length` counts. zod's `.max` counts code points,
 * so it would let 128 emoji (256 units) into an NVARCHAR(128): the check here uses `length`.
 */
export const nvarchar = (n: number, what = 'a string') =>
  z
    .string(`expected ${what}`)
    .refine((s) => s.length <= n, `expected at most ${n} UTF-16 code units (NVARCHAR(${n}))`);

/** An INT value at or above `min`. */
export const sqlInt = (min: number = intRange.min, minMessage = `expected an integer >= ${min}`) =>
  z
    .int('expected an integer')
    .min(min, minMessage)
    .max(intRange.max, `expected an integer <= ${intRange.max} (INT)`);

/** DECIMAL(p, s) text: at most `p - s` integer digits and `s` decimals, non-negative, no exponent. */
export const decimalPattern = (precision: number, scale: number): RegExp =>
  new RegExp(`^(0|[1-9]\\d{0,${precision - scale - 1}})(\\.\\d{1,${scale}})?$`);

/** Describes a DECIMAL(p, s) bound in a dead-letter description. */
export const decimalMessage = (precision: number, scale: number): string =>
  `expected a non-negative decimal with at most ${precision - scale} integer digits and ` +
  `${scale} decimal places (DECIMAL(${precision},${scale})), e.g. "12.50"`;

/**
 * A DECIMAL(p, s) amount as JSON string ("12.50") or number (12.5). The output is always the decimal
 * text, so the SQL write never goes through a binary float: 0.1 + 0.2 must not become
 * 0.30000000000000004. More decimals than the column keeps are refused, never rounded.
 */
export const decimal = (precision: number, scale: number) => {
  const pattern = decimalPattern(precision, scale);
  const message = decimalMessage(precision, scale);
  return z.union(
    [
      z.string().regex(pattern, message),
      z
        .number()
        .refine((n) => Number.isFinite(n) && pattern.test(String(n)), message)
        .transform((n) => String(n)),
    ],
    { error: message },
  );
};

// RFC 3339 with an offset, split so that the fraction and the offset can be checked against the column.
const dateTimeParts = /^(\d{4})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.(\d+))?(Z|[+-](\d{2}):(\d{2}))$/i;
// DATETIMEOFFSET keeps its UTC instant within these (the offset is stored beside it).
const minUtcMs = new Date('0001-01-01T00:00:00Z').getTime();
const maxUtcMs = new Date('9999-12-31T23:59:59.999Z').getTime();

/** Why RFC 3339 `text` does not fit DATETIMEOFFSET(precision), or undefined when it fits. */
export function datetimeOffsetProblem(text: string, precision: number): string | undefined {
  const parts = dateTimeParts.exec(text);
  // Not RFC 3339 at all: the format check says so, once.
  if (!parts) return undefined;
  const [, , fraction = '', zone = '', hours = '00', minutes = '00'] = parts;
  if (fraction.length > precision) {
    return `expected at most ${precision} fractional second digits (DATETIMEOFFSET(${precision}))`;
  }
  if (zone.toUpperCase() !== 'Z' && Number(hours) * 60 + Number(minutes) > 14 * 60) {
    return 'expected an offset between -14:00 and +14:00 (DATETIMEOFFSET)';
  }
  // Only the first and the last year can reach past the range, whatever the offset.
  const year = text.charCodeAt(0) === 48 && text.startsWith('0001') ? 1 : text.startsWith('9999') ? 9999 : 0;
  if (year === 0) return undefined;
  // Milliseconds decide the range; digits beyond them never cross a bound that ends in .999.
  const ms = new Date(text.replace(/(\.\d{3})\d+/, '$1')).getTime();
  // A time JS cannot read (a leap second) is refused by the format check already.
  if (Number.isNaN(ms)) return undefined;
  if (!(ms >= minUtcMs && ms <= maxUtcMs)) {
    return 'expected a time between 0001-01-01 and 9999-12-31 in UTC (DATETIMEOFFSET)';
  }
  return undefined;
}

/** A DATETIMEOFFSET(precision) value as RFC 3339 text with an offset. */
export const datetimeOffset = (precision = 7, message = 'expected an RFC 3339 date-time with an offset') =>
  z.iso.datetime({ offset: true, message }).check((ctx) => {
    const problem = datetimeOffsetProblem(ctx.value, precision);
    if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
  });
