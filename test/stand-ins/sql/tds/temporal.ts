const MS_PER_DAY = 86_400_000;
/** Days from 0001-01-01 to 1970-01-01 in the proleptic Gregorian calendar SQL Server uses. */
const DAYS_TO_UNIX_EPOCH = 719_162;

/** Bytes of the time part of TIME / DATETIME2 / DATETIMEOFFSET at a fractional-second scale. */
export function timeLength(scale: number): number {
  if (scale <= 2) return 3;
  if (scale <= 4) return 4;
  return 5;
}

/** A UTC instant as SQL Server's day number (since 0001-01-01) and time ticks at `scale`. */
export function toDayAndTicks(value: Date, scale: number): { days: number; ticks: number } {
  const ms = value.getTime();
  const days = Math.floor(ms / MS_PER_DAY);
  const msOfDay = ms - days * MS_PER_DAY;
  return { days: days + DAYS_TO_UNIX_EPOCH, ticks: Math.round(msOfDay * 10 ** (scale - 3)) };
}

export function fromDayAndTicks(days: number, ticks: number, scale: number): Date {
  return new Date((days - DAYS_TO_UNIX_EPOCH) * MS_PER_DAY + Math.round(ticks / 10 ** (scale - 3)));
}

/** DATETIME: days since 1900-01-01 and 1/300 s ticks since midnight. */
export function fromDateTime(days: number, ticks300: number): Date {
  const daysTo1900 = 25_567;
  return new Date((days - daysTo1900) * MS_PER_DAY + Math.round((ticks300 * 10) / 3));
}
