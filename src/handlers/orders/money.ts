/**
 * Decimal amounts of the orders domain, exactly: no binary float on the way. The common case, an
 * amount of up to 13 integer digits, is read digit by digit into a safe integer of cents, with no
 * string or BigInt made per call; larger ones go through BigInt.
 */

/** Cents of a decimal text with at most 2 places ("12.5", "12.50", "3"), or undefined past 13 integer digits. */
const safeCents = (amount: string): number | undefined => {
  const dot = amount.indexOf('.');
  const whole = dot < 0 ? amount.length : dot;
  if (whole > 13) return undefined;
  let cents = 0;
  for (let i = 0; i < whole; i++) cents = cents * 10 + (amount.charCodeAt(i) - 48);
  cents *= 100;
  if (dot >= 0 && dot + 1 < amount.length) cents += (amount.charCodeAt(dot + 1) - 48) * 10;
  if (dot >= 0 && dot + 2 < amount.length) cents += amount.charCodeAt(dot + 2) - 48;
  return cents;
};

/** A decimal text with at most 2 places in cents. */
const toCents = (amount: string): bigint => {
  const cents = safeCents(amount);
  if (cents !== undefined) return BigInt(cents);
  const dot = amount.indexOf('.');
  const fraction = dot < 0 ? '' : amount.slice(dot + 1);
  return BigInt(dot < 0 ? amount : amount.slice(0, dot)) * 100n + BigInt(`${fraction}00`.slice(0, 2));
};

/** Σ quantity × unitPrice in cents: in safe integers while the sum stays one, else in BigInt. */
export const totalCents = (lines: readonly { quantity: number; unitPrice: string }[]): bigint => {
  let sum = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] as { quantity: number; unitPrice: string };
    const cents = safeCents(l.unitPrice);
    const next = cents === undefined ? Number.NaN : sum + l.quantity * cents;
    if (!Number.isSafeInteger(next)) {
      return lines
        .slice(i)
        .reduce((acc, rest) => acc + BigInt(rest.quantity) * toCents(rest.unitPrice), BigInt(sum));
    }
    sum = next;
  }
  return BigInt(sum);
};

/** Cents as DECIMAL(19,2) text. */
export const fromCents = (cents: bigint): string => {
  const sign = cents < 0n ? '-' : '';
  const abs = cents < 0n ? -cents : cents;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
};
