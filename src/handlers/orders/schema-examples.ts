import { randomUUID } from 'node:crypto';
import {
  type OrderPlacedData,
  type OrderStatusChangedData,
  orderPlacedType,
  orderStatusChangedType,
} from './schema.ts';

const statuses = ['paid', 'shipped', 'cancelled'] as const;
const currencies = ['EUR', 'USD', 'GBP', 'CHF'] as const;

/** Valid data for `com.example.order.placed`; `n` varies it so generated streams are not uniform. */
export function exampleOrderPlaced(n: number): OrderPlacedData {
  return {
    orderId: randomUUID(),
    customerId: `customer-${n % 97}`,
    currency: currencies[n % currencies.length] ?? 'EUR',
    placedAt: new Date().toISOString(),
    lines: Array.from({ length: 1 + (n % 3) }, (_, i) => ({
      sku: `SKU-${(n + i) % 50}`,
      quantity: 1 + ((n + i) % 5),
      unitPrice: `${1 + ((n * 7 + i) % 200)}.${String((n + i) % 100).padStart(2, '0')}`,
    })),
  };
}

/** Valid data for `com.example.order.status-changed`. */
export function exampleOrderStatusChanged(n: number): OrderStatusChangedData {
  return { orderId: randomUUID(), status: statuses[n % statuses.length] ?? 'paid', version: 1 + (n % 4) };
}

/** Valid example data per event type, for the publisher and tests. */
export const exampleData: ReadonlyMap<string, (n: number) => unknown> = new Map<
  string,
  (n: number) => unknown
>([
  [orderPlacedType, exampleOrderPlaced],
  [orderStatusChangedType, exampleOrderStatusChanged],
]);
