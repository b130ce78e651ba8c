import { randomUUID } from 'node:crypto';
import { defineHandler } from '../handler.ts';
import { fromCents, totalCents } from './money.ts';
import { type OrderPlacedData, orderPlacedData, orderPlacedType } from './schema.ts';

const currencies = ['EUR', 'USD', 'GBP', 'CHF'] as const;

/**
 * `com.example.order.placed`: creates the order with its lines, or fills in an order a status
 * change created first. The first `placed` of an order wins; later ones (repeats) change nothing.
 */
export const orderPlacedHandler = defineHandler({
  type: orderPlacedType,
  schema: orderPlacedData,
  dir: new URL('.', import.meta.url),
  statements: ['update-orders-placed', 'insert-orders-placed', 'insert-order-lines'],
  columns: {
    'dbo.Orders.Total': { notInput: 'the sum of the lines, bounded by the schema’s total rule' },
    'dbo.OrderLines.LineNumber': { notInput: 'the line index, bounded by the message size' },
    'dbo.OrderLines.Sku': { field: 'lines[].sku' },
    'dbo.OrderLines.Quantity': { field: 'lines[].quantity' },
    'dbo.OrderLines.UnitPrice': { field: 'lines[].unitPrice' },
  },
  example: (n) => ({
    orderId: randomUUID(),
    customerId: `customer-${n % 97}`,
    currency: currencies[n % currencies.length] ?? 'EUR',
    placedAt: new Date().toISOString(),
    lines: Array.from({ length: 1 + (n % 3) }, (_, i) => ({
      sku: `SKU-${(n + i) % 50}`,
      quantity: 1 + ((n + i) % 5),
      unitPrice: `${1 + ((n * 7 + i) % 200)}.${String((n + i) % 100).padStart(2, '0')}`,
    })),
  }),
  async write(events, { tx, sql }) {
    const byOrder = new Map<string, OrderPlacedData>();
    for (const e of events) {
      const key = e.data.orderId.toLowerCase();
      if (!byOrder.has(key)) byOrder.set(key, e.data);
    }
    const orders = [...byOrder.values()].map((d) => ({
      orderId: d.orderId,
      customerId: d.customerId,
      currency: d.currency,
      placedAt: d.placedAt,
      total: fromCents(totalCents(d.lines)),
    }));
    const lines = [...byOrder.values()].flatMap((d) =>
      d.lines.map((l, i) => ({
        orderId: d.orderId,
        lineNumber: i + 1,
        sku: l.sku,
        quantity: l.quantity,
        unitPrice: l.unitPrice,
      })),
    );
    const ordersParam = { orders: { type: 'nvarchar', value: JSON.stringify(orders) } } as const;
    // One request for both statements: the orders' JSON crosses the wire once.
    await tx.query(`${sql('update-orders-placed')}\n${sql('insert-orders-placed')}`, ordersParam);
    await tx.query(sql('insert-order-lines'), { lines: { type: 'nvarchar', value: JSON.stringify(lines) } });
  },
});
