import { existsSync } from 'node:fs';
import type { z } from 'zod';
import type { CloudEvent } from '../cloudevents/cloud-event.ts';
import type { EventSchemas } from '../cloudevents/envelope.ts';
import { inboxMigrations } from '../inbox/inbox.ts';
import type { SqlExecutor } from '../sql/client.ts';
import { loadStatements, type Statements } from '../sql/statements.ts';
import type { Handler } from './handler.ts';

export type HandlerErrorCode = 'DuplicateType' | 'InvalidHandler' | 'MissingStatement' | 'NoHandlers';

/** The handler list cannot run: found at start, never on a message. */
export class HandlerError extends Error {
  override readonly name = 'HandlerError';
  readonly code: HandlerErrorCode;
  constructor(code: HandlerErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** The handler list, checked and ready: what the worker, reprocessing, publishing and the bench read. */
export type HandlerRegistry = {
  readonly handlers: readonly Handler[];
  /** Event type → data schema; a type missing here is dead-lettered as `UnknownType`. */
  readonly schemas: EventSchemas;
  has(type: string): boolean;
  /** Writes events of one registered type through its handler. */
  write(type: string, events: readonly CloudEvent[], tx: SqlExecutor): Promise<void>;
  /** Valid example data of a registered type. */
  example(type: string, n: number): unknown;
  /** The migrations the list needs: the product's (the inbox's), then each handler folder's `migrations/`, once. */
  readonly migrationDirs: readonly URL[];
};

const isHandler = (h: unknown): h is Handler => {
  const c = h as Partial<Handler> | undefined;
  return (
    typeof c?.type === 'string' &&
    typeof (c.schema as z.ZodType | undefined)?.safeParse === 'function' &&
    c.dir instanceof URL &&
    Array.isArray(c.statements) &&
    typeof c.write === 'function' &&
    typeof c.example === 'function'
  );
};

/**
 * Checks the list and reads every handler's statements.
 * @throws HandlerError `NoHandlers`, `InvalidHandler` (not built with defineHandler),
 * `DuplicateType`, `MissingStatement` (naming the file).
 */
export function createHandlerRegistry(list: readonly unknown[]): HandlerRegistry {
  if (list.length === 0) throw new HandlerError('NoHandlers', 'the handler list is empty');
  const byType = new Map<string, { handler: Handler; sql: Statements<string> }>();
  const migrationDirs = new Map<string, URL>([[inboxMigrations.href, inboxMigrations]]);
  for (const [i, handler] of list.entries()) {
    if (!isHandler(handler)) {
      throw new HandlerError('InvalidHandler', `handler ${i} of the list was not built with defineHandler`);
    }
    if (byType.has(handler.type)) {
      throw new HandlerError('DuplicateType', `event type ${handler.type} is registered twice`);
    }
    let sql: Statements<string>;
    try {
      sql = loadStatements(handler.dir, handler.statements);
    } catch (error: unknown) {
      throw new HandlerError('MissingStatement', `${handler.type}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    byType.set(handler.type, { handler, sql });
    const migrations = new URL('migrations/', handler.dir);
    if (existsSync(migrations)) migrationDirs.set(migrations.href, migrations);
  }
  const entry = (type: string) => {
    const found = byType.get(type);
    if (!found) throw new HandlerError('InvalidHandler', `no handler for event type ${type}`);
    return found;
  };
  return {
    handlers: [...byType.values()].map((e) => e.handler),
    schemas: new Map([...byType].map(([type, e]) => [type, e.handler.schema])),
    has: (type) => byType.has(type),
    write(type, events, tx) {
      const { handler, sql } = entry(type);
      return handler.write(events, { tx, sql });
    },
    example: (type, n) => entry(type).handler.example(n),
    migrationDirs: [...migrationDirs.values()],
  };
}
