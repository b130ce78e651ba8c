import { z } from 'zod';

/** ISO 4217 alphabetic code: the shape only, so a newly issued currency needs no release. */
const currency = z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code: 3 upper-case letters');

// Up to 17 integer digits and 2 decimals: fits DECIMAL(19,2) without rounding.
const decimalText = /^(0|[1-9]\d{0,16})(\.\d{1,2})?$/;
const decimalMessage = 'expected a non-negative decimal with at most 2 decimal places, e.g. "12.50"';

/**
 * A money amount as JSON string ("12.50") or number (12.5). The output is always the decimal text,
 * so the SQL write never goes through a binary float: 0.1 + 0.2 must not become 0.30000000000000004.
 */
const unitPrice = z.union([
  z.string().regex(decimalText, decimalMessage),
  z
    .number()
    .refine((n) => Number.isFinite(n) && decimalText.test(String(n)), decimalMessage)
    .transform((n) => String(n)),
]);

const orderLine = z.object({
  sku: z.string().min(1, 'expected a non-empty SKU'),
  quantity: z.number().int('expected an integer').positive('expected a quantity > 0'),
  unitPrice,
});

/** Data of `com.example.order.placed`. */
export const orderPlacedData = z.object({
  orderId: z.uuid(),
  customerId: z.string().min(1, 'expected a non-empty customer id'),
  currency,
  placedAt: z.iso.datetime({ offset: true, message: 'expected an RFC 3339 date-time with an offset' }),
  lines: z.array(orderLine).min(1, 'expected at least one order line'),
});

/** Data of `com.example.order.status-changed`. */
export const orderStatusChangedData = z.object({
  orderId: z.uuid(),
  status: z.enum(['paid', 'shipped', 'cancelled']),
  /** Increases with every change of one order, so a late, older change is recognised and ignored. */
  version: z.number().int('expected an integer').min(1, 'expected a version >= 1'),
});

export type OrderPlacedData = z.output<typeof orderPlacedData>;
export type OrderLine = OrderPlacedData['lines'][number];
export type OrderStatusChangedData = z.output<typeof orderStatusChangedData>;

export const orderPlacedType = 'com.example.order.placed';
export const orderStatusChangedType = 'com.example.order.status-changed';

/** The example domain's event types with their data schemas; the SQL handlers add `write`. */
export const orderPlaced = { type: orderPlacedType, schema: orderPlacedData } as const;
export const orderStatusChanged = { type: orderStatusChangedType, schema: orderStatusChangedData } as const;
