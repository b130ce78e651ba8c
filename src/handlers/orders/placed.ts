import type { CloudEvent } from '../../pipeline/cloud-event.ts';
import { statement } from '../../sql/statements.ts';
import type { SqlWriteHandler } from '../registry.ts';
import { fromCents, toCents } from './money.ts';
import { type OrderPlacedData, orderPlaced } from './schema.ts';

/**
 * `com.example.order.placed`: creates the order with its lines, or fills in an order a status
 * change created first. The first `placed` of an order wins; later ones (repeats) change nothing.
 */
export const orderPlacedHandler = {
  ...orderPlaced,
  async write(events, tx) {
    const byOrder = new Map<string, OrderPlacedData>();
    for (const e of events as readonly CloudEvent<OrderPlacedData>[]) {
      const key = e.data.orderId.toLowerCase();
      if (!byOrder.has(key)) byOrder.set(key, e.data);
    }
    const orders = [...byOrder.values()].map((d) => ({
      orderId: d.orderId,
      customerId: d.customerId,
      currency: d.currency,
      placedAt: d.placedAt,
      total: fromCents(
        d.lines.reduce((sum, l) => sum + BigInt(l.quantity) * toCents(String(l.unitPrice)), 0n),
      ),
    }));
    const lines = [...byOrder.values()].flatMap((d) =>
      d.lines.map((l, i) => ({
        orderId: d.orderId,
        lineNumber: i + 1,
        sku: l.sku,
        quantity: l.quantity,
        unitPrice: String(l.unitPrice),
      })),
    );
    const ordersParam = { orders: { type: 'nvarchar', value: JSON.stringify(orders) } } as const;
    await tx.query(statement('update-orders-placed'), ordersParam);
    await tx.query(statement('insert-orders-placed'), ordersParam);
    await tx.query(statement('insert-order-lines'), {
      lines: { type: 'nvarchar', value: JSON.stringify(lines) },
    });
  },
} satisfies SqlWriteHandler;
