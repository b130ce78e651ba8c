/** Bytes of a DECIMAL/NUMERIC magnitude at a precision (MS-TDS 2.2.5.5.1.6). */
export function decimalLength(precision: number): number {
  if (precision <= 9) return 4;
  if (precision <= 19) return 8;
  if (precision <= 28) return 12;
  return 16;
}

/** A decimal's digits scaled to an integer, kept exact: '12.345' at scale 2 → 1235n (half away from zero). */
export function toScaledInteger(value: string | number | bigint, scale: number): bigint {
  const text =
    typeof value === 'string' ? value.trim() : typeof value === 'bigint' ? value.toString() : toPlain(value);
  const match = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (!match) throw new TypeError(`not a decimal: ${text}`);
  const [, sign = '', whole = '', fraction = ''] = match;
  const kept = fraction.slice(0, scale).padEnd(scale, '0');
  let magnitude = BigInt(`${whole || '0'}${kept}`);
  if ((fraction[scale] ?? '0') >= '5') magnitude += 1n;
  return sign === '-' ? -magnitude : magnitude;
}

function toPlain(n: number): string {
  // toFixed avoids exponent notation for the magnitudes a DECIMAL(38) can hold.
  return Math.abs(n) < 1e21
    ? n.toFixed(20).replace(/0+$/, '').replace(/\.$/, '')
    : BigInt(Math.round(n)).toString();
}

export function fromScaledInteger(magnitude: bigint, negative: boolean, scale: number): string {
  const digits = magnitude.toString().padStart(scale + 1, '0');
  const text = scale > 0 ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return negative && magnitude !== 0n ? `-${text}` : text;
}

export function writeMagnitude(magnitude: bigint, length: number): Buffer {
  const b = Buffer.alloc(length);
  let m = magnitude < 0n ? -magnitude : magnitude;
  for (let i = 0; i < length; i++) {
    b[i] = Number(m & 0xffn);
    m >>= 8n;
  }
  if (m !== 0n) throw new RangeError('decimal value does not fit its precision');
  return b;
}

export function readMagnitude(bytes: Buffer): bigint {
  let m = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) m = (m << 8n) | BigInt(bytes[i] ?? 0);
  return m;
}
