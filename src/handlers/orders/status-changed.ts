import { randomUUID } from 'node:crypto';
import { defineHandler } from '../handler.ts';
import {
  type OrderStatusChangedData,
  orderStatusChangedData,
  orderStatusChangedType,
  orderStatuses,
} from './schema.ts';

/**
 * `com.example.order.status-changed`: the newest version of an order's status wins, whatever
 * order the changes arrive in; an order not placed yet is created with the status alone.
 */
export const orderStatusChangedHandler = defineHandler({
  type: orderStatusChangedType,
  schema: orderStatusChangedData,
  dir: new URL('.', import.meta.url),
  statements: ['update-orders-status', 'insert-orders-status'],
  columns: { 'dbo.Orders.StatusVersion': { field: 'version' } },
  example: (n) => ({
    orderId: randomUUID(),
    status: orderStatuses[n % orderStatuses.length] ?? 'paid',
    version: 1 + (n % 4),
  }),
  async write(events, { tx, sql }) {
    const newest = new Map<string, OrderStatusChangedData>();
    for (const e of events) {
      const key = e.data.orderId.toLowerCase();
      const seen = newest.get(key);
      if (!seen || seen.version < e.data.version) newest.set(key, e.data);
    }
    const changes = [...newest.values()].map((d) => ({
      orderId: d.orderId,
      status: d.status,
      version: d.version,
    }));
    const param = { changes: { type: 'nvarchar', value: JSON.stringify(changes) } } as const;
    await tx.query(sql('update-orders-status'), param);
    await tx.query(sql('insert-orders-status'), param);
  },
});
