import { z } from 'zod';
import { datetimeOffset, decimal, nvarchar, sqlInt } from '../../sql/column-bounds.ts';
import { fromCents, totalCents } from './money.ts';

/** ISO 4217 alphabetic code: the shape only, so a newly issued currency needs no release. */
const currency = z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code: 3 upper-case letters');

/*
 * Every bound below is its column's (src/sql/migrations): a value that does not fit is refused with
 * a reason, never cut or rounded by the write. test/unit/schema-columns.test.ts compares the two.
 */

const orderLine = z.object({
  sku: nvarchar(64, 'a SKU').min(1, 'expected a non-empty SKU'),
  quantity: sqlInt(1, 'expected a quantity > 0'),
  unitPrice: decimal(19, 2),
});

const maxTotalCents = 10n ** 19n - 1n;

/** Data of `com.example.order.placed`. */
export const orderPlacedData = z
  .object({
    orderId: z.uuid(),
    customerId: nvarchar(128, 'a customer id').min(1, 'expected a non-empty customer id'),
    currency,
    placedAt: datetimeOffset(7),
    lines: z.array(orderLine).min(1, 'expected at least one order line'),
  })
  .check((ctx) => {
    // The order's Total is DECIMAL(19,2) too: lines that each fit can still sum past it.
    // Only well-formed lines have a total; their own issues are reported already.
    if (ctx.issues.length > 0) return;
    const lines = ctx.value.lines;
    const total = totalCents(lines);
    if (total > maxTotalCents) {
      ctx.issues.push({
        code: 'custom',
        path: ['lines'],
        message: `expected the order total (sum of quantity × unitPrice) to fit DECIMAL(19,2): at most ${fromCents(maxTotalCents)}`,
        input: lines,
      });
    }
  });

/** The statuses a change can set (`placed` is the status of a new order). */
export const orderStatuses = ['paid', 'shipped', 'cancelled'] as const;

/** Data of `com.example.order.status-changed`. */
export const orderStatusChangedData = z.object({
  orderId: z.uuid(),
  status: z.enum(orderStatuses),
  /** Increases with every change of one order, so a late, older change is recognised and ignored. */
  version: sqlInt(1, 'expected a version >= 1'),
});

export type OrderPlacedData = z.output<typeof orderPlacedData>;
export type OrderLine = OrderPlacedData['lines'][number];
export type OrderStatusChangedData = z.output<typeof orderStatusChangedData>;

export const orderPlacedType = 'com.example.order.placed';
export const orderStatusChangedType = 'com.example.order.status-changed';
