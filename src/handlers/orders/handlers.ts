import { orderPlacedHandler } from './placed.ts';
import { orderStatusChangedHandler } from './status-changed.ts';

/** The example domain: orders placed and their status changes, into dbo.Orders and dbo.OrderLines. */
export const orderHandlers = [orderPlacedHandler, orderStatusChangedHandler];
