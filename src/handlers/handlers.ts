import { orderHandlers } from './orders/handlers.ts';

/**
 * The event types this worker handles: the worker, `npm run reprocess`, `npm run publish` and the
 * bench all read this list (or the one HANDLERS_MODULE names). A domain of your own is a folder
 * beside orders/ and one entry here (README, "Add your own event type").
 */
export const handlers = [...orderHandlers];
