import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromCents, totalCents } from '../../src/handlers/orders/money.ts';

// The reference: BigInt all the way, as the amounts are decimal text.
const reference = (lines: { quantity: number; unitPrice: string }[]): bigint =>
  lines.reduce((sum, l) => {
    const [whole = '0', fraction = ''] = l.unitPrice.split('.');
    return sum + BigInt(l.quantity) * (BigInt(whole) * 100n + BigInt(`${fraction}00`.slice(0, 2)));
  }, 0n);

const price = fc
  .tuple(fc.bigInt({ min: 0n, max: 10n ** 17n - 1n }), fc.nat({ max: 99 }), fc.constantFrom(0, 1, 2))
  .map(([whole, cents, places]) =>
    places === 0 ? String(whole) : `${whole}.${String(cents).padStart(2, '0').slice(0, places)}`,
  );
const line = fc.record({ quantity: fc.integer({ min: 1, max: 2_147_483_647 }), unitPrice: price });

describe('order money', () => {
  it('sums quantity × unit price exactly, in safe integers or past them', () => {
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 6 }), (lines) => {
        expect(totalCents(lines)).toBe(reference(lines));
      }),
      { numRuns: 2_000 },
    );
  });

  it('keeps the cents of a price as written, with no float on the way', () => {
    expect(fromCents(totalCents([{ quantity: 3, unitPrice: '0.1' }]))).toBe('0.30');
    expect(fromCents(totalCents([{ quantity: 2, unitPrice: '99999999999999999.99' }]))).toBe(
      '199999999999999999.98',
    );
    expect(
      fromCents(
        totalCents([
          { quantity: 1, unitPrice: '12.5' },
          { quantity: 1, unitPrice: '3' },
        ]),
      ),
    ).toBe('15.50');
  });
});
