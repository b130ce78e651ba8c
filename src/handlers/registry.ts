import type { z } from 'zod';
import type { CloudEvent } from '../pipeline/cloud-event.ts';
import type { SqlExecutor } from '../sql/client.ts';

/**
 * What the consumer needs to validate a message: its event type and the schema of its data.
 * A handler is this plus a `write`, so a handler list can be passed where schemas are expected.
 */
export type EventSchema<T = unknown> = { readonly type: string; readonly schema: z.ZodType<T> };

/** Event type → data schema. A type missing from the map is dead-lettered as `UnknownType`. */
export type EventSchemas = ReadonlyMap<string, z.ZodType>;

/** Builds the type → schema map; a type registered twice fails at startup, not on a message. */
export function toEventSchemas(handlers: readonly EventSchema[]): EventSchemas {
  const schemas = new Map<string, z.ZodType>();
  for (const handler of handlers) {
    if (schemas.has(handler.type)) {
      // A programming error in the handler list: it stops the start, never a message.
      throw new Error(`event type ${handler.type} is registered twice`);
    }
    schemas.set(handler.type, handler.schema);
  }
  return schemas;
}

/**
 * The SQL side of an event type: writes a batch of validated events of that type, set-based, in
 * the writer's transaction. It must be idempotent per entity (events may repeat under new ids) and
 * must not depend on the order of events, as a batch may be split to isolate a poison message.
 */
export type SqlWriteHandler<T = unknown> = EventSchema<T> & {
  write(events: readonly CloudEvent[], tx: SqlExecutor): Promise<void>;
};
