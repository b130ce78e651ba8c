import { orderPlacedHandler } from './placed.ts';
import { orderStatusChangedHandler } from './status-changed.ts';

/** The example domain's handlers: schema (for validation) and SQL write per event type. */
export const orderHandlers = [orderPlacedHandler, orderStatusChangedHandler] as const;
