import { describe, expect, it } from 'vitest';
import { orderPlacedData, orderStatusChangedData } from '../../src/handlers/orders/schema.ts';

const placed = {
  orderId: '3f1c7a52-8c1e-4b8e-9a57-2f4d1f0b9c11',
  customerId: 'cust-42',
  currency: 'EUR',
  placedAt: '2025-03-01T10:15:00+01:00',
  lines: [{ sku: 'SKU-1', quantity: 2, unitPrice: '12.50' }],
};

const issuesOf = (result: { success: boolean; error?: { issues: { path: PropertyKey[] }[] } }) =>
  result.error?.issues.map((i) => i.path.join('.'));

describe('order.placed data', () => {
  it('accepts a valid order and keeps the price as decimal text', () => {
    const result = orderPlacedData.parse({
      ...placed,
      lines: [...placed.lines, { sku: 'SKU-2', quantity: 1, unitPrice: 0.1 }],
    });
    expect(result.lines.map((l) => l.unitPrice)).toEqual(['12.50', '0.1']);
  });

  it.each([
    ['a lower-case currency', { currency: 'eur' }, 'currency'],
    ['a four-letter currency', { currency: 'EURO' }, 'currency'],
    ['a time without offset', { placedAt: '2025-03-01T10:15:00' }, 'placedAt'],
    ['an impossible date', { placedAt: '2025-02-30T10:15:00Z' }, 'placedAt'],
    ['an order id that is not a UUID', { orderId: 'order-1' }, 'orderId'],
    ['an empty customer id', { customerId: '' }, 'customerId'],
    ['no lines', { lines: [] }, 'lines'],
  ])('rejects %s', (_name, patch, path) => {
    expect(issuesOf(orderPlacedData.safeParse({ ...placed, ...patch }))).toEqual([path]);
  });

  it.each([
    ['a zero quantity', { quantity: 0 }, 'quantity'],
    ['a fractional quantity', { quantity: 1.5 }, 'quantity'],
    ['an empty SKU', { sku: '' }, 'sku'],
    ['a price with 3 decimals as text', { unitPrice: '1.005' }, 'unitPrice'],
    ['a price with 3 decimals as number', { unitPrice: 1.005 }, 'unitPrice'],
    ['a negative price', { unitPrice: '-1.00' }, 'unitPrice'],
    ['a price in exponent notation', { unitPrice: 1e21 }, 'unitPrice'],
  ])('rejects a line with %s', (_name, patch, field) => {
    const lines = [{ ...placed.lines[0], ...patch }];
    expect(issuesOf(orderPlacedData.safeParse({ ...placed, lines }))).toEqual([`lines.0.${field}`]);
  });

  it('refuses lines that each fit but sum past the DECIMAL(19,2) total, naming the bound', () => {
    // dbo.Orders.Total is the one column no field lands in: the schema's total rule bounds it.
    const max = '99999999999999999.99';
    expect(
      orderPlacedData.safeParse({ ...placed, lines: [{ sku: 'A', quantity: 1, unitPrice: max }] }).success,
    ).toBe(true);
    const over = orderPlacedData.safeParse({ ...placed, lines: [{ sku: 'A', quantity: 2, unitPrice: max }] });
    expect(over.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      expect.stringMatching(/^lines: .*DECIMAL\(19,2\)/),
    ]);
  });
});

describe('order.status-changed data', () => {
  const changed = { orderId: placed.orderId, status: 'paid', version: 1 };

  it('accepts each status', () => {
    for (const status of ['paid', 'shipped', 'cancelled']) {
      expect(orderStatusChangedData.safeParse({ ...changed, status }).success).toBe(true);
    }
  });

  it('rejects an unknown status, a version 0 and a fractional version', () => {
    expect(issuesOf(orderStatusChangedData.safeParse({ ...changed, status: 'lost' }))).toEqual(['status']);
    expect(issuesOf(orderStatusChangedData.safeParse({ ...changed, version: 0 }))).toEqual(['version']);
    expect(issuesOf(orderStatusChangedData.safeParse({ ...changed, version: 1.5 }))).toEqual(['version']);
  });
});
