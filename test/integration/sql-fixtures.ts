import { randomUUID } from 'node:crypto';
import { orderPlacedType, orderStatusChangedType } from '../../src/handlers/orders/schema.ts';
import type { CloudEvent } from '../../src/pipeline/cloud-event.ts';

/** A placed event for `orderId` with two lines (total 2 × 12.50 + 1 × 3.00 = 28.00). */
export const placedEvent = (orderId: string, id: string = randomUUID()): CloudEvent => ({
  specversion: '1.0',
  id,
  source: '/test/orders',
  type: orderPlacedType,
  time: '2024-05-01T10:00:00Z',
  data: {
    orderId,
    customerId: 'customer-1',
    currency: 'EUR',
    placedAt: '2024-05-01T09:59:00+02:00',
    lines: [
      { sku: 'SKU-1', quantity: 2, unitPrice: '12.50' },
      { sku: 'SKU-2', quantity: 1, unitPrice: '3' },
    ],
  },
});

export const statusEvent = (
  orderId: string,
  status: 'paid' | 'shipped' | 'cancelled',
  version: number,
  id: string = randomUUID(),
): CloudEvent => ({
  specversion: '1.0',
  id,
  source: '/test/orders',
  type: orderStatusChangedType,
  time: '2024-05-01T10:05:00Z',
  data: { orderId, status, version },
});
