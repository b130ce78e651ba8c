import type { z } from 'zod';
import type { CloudEvent } from '../cloudevents/cloud-event.ts';
import type { SqlExecutor } from '../sql/client.ts';

/** What a handler's `write` gets besides its events. */
export type HandlerContext<S extends string = string> = {
  /** The writer's transaction: the inbox rows of these events commit with what `write` does. */
  tx: SqlExecutor;
  /** The text of one of the handler's statements, a `.sql` file in its folder, read at start. */
  sql(name: S): string;
};

/**
 * Where a table column of the handler's domain gets its value, when the column is not named after a
 * data field (`customerId` → `CustomerId` needs no entry): another field's path, or why no input
 * reaches it. test/unit/schema-columns.test.ts reads these to prove invariant 6 for every handler.
 */
export type ColumnSource = { field: string } | { notInput: string };

/** An event type as the worker handles it; built with `defineHandler`. */
export type Handler = {
  /** The CloudEvents `type`. */
  readonly type: string;
  /** Its `data` schema: bounds every value by the column it lands in (src/sql/column-bounds.ts). */
  readonly schema: z.ZodType;
  /** The folder of its `.sql` statements and of `migrations/`. */
  readonly dir: URL;
  readonly statements: readonly string[];
  /** Valid data, varied by `n`: for `npm run publish -- --type` and the bench. */
  example(n: number): unknown;
  /** `dbo.Table.Column` → its source, where the column name does not say it. @defaultValue {} */
  readonly columns?: Readonly<Record<string, ColumnSource>>;
  write(events: readonly CloudEvent[], ctx: HandlerContext): Promise<void>;
};

export type HandlerDefinition<Schema extends z.ZodType, S extends string> = {
  type: string;
  schema: Schema;
  /** `new URL('.', import.meta.url)`: where its statements and `migrations/` are. */
  dir: URL;
  /** The statements `write` uses, `<name>.sql` in `dir`; a missing one stops the start. */
  statements: readonly S[];
  example(n: number): z.input<Schema>;
  columns?: Readonly<Record<string, ColumnSource>>;
  /**
   * Writes a batch of validated events of this type, set-based, in the writer's transaction. It
   * must be idempotent per entity (an event may come again under a new id, and `reprocess inbox`
   * re-applies stored ones) and must not depend on the order of events: a batch may be split to
   * isolate a poison message, and a retried event arrives after later ones.
   */
  write(events: readonly CloudEvent<z.output<Schema>>[], ctx: HandlerContext<S>): Promise<void>;
};

/** A handler whose `write` sees its events typed by its schema, and its statements by name. */
export const defineHandler = <Schema extends z.ZodType, const S extends string>(
  definition: HandlerDefinition<Schema, S>,
): Handler => definition as unknown as Handler;
