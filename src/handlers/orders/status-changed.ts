import type { CloudEvent } from '../../pipeline/cloud-event.ts';
import { statement } from '../../sql/statements.ts';
import type { SqlWriteHandler } from '../registry.ts';
import { type OrderStatusChangedData, orderStatusChanged } from './schema.ts';

/**
 * `com.example.order.status-changed`: the newest version of an order's status wins, whatever
 * order the changes arrive in; an order not placed yet is created with the status alone.
 */
export const orderStatusChangedHandler = {
  ...orderStatusChanged,
  async write(events, tx) {
    const newest = new Map<string, OrderStatusChangedData>();
    for (const e of events as readonly CloudEvent<OrderStatusChangedData>[]) {
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
    await tx.query(statement('update-orders-status'), param);
    await tx.query(statement('insert-orders-status'), param);
  },
} satisfies SqlWriteHandler;
