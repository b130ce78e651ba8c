import type { CloudEvent } from '../cloudevents/cloud-event.ts';
import type { Config } from '../config.ts';
import type { HandlerRegistry } from '../handlers/registry.ts';
import type { StartContext } from '../lifecycle.ts';
import type { SqlClient } from '../sql/client.ts';
import { type Batcher, createBatcher } from './batcher.ts';
import type { Breaker } from './breaker.ts';
import type { Outcome } from './outcome.ts';
import { createSqlWriter, type SqlWriterObserver } from './sql-writer.ts';

export type WritePathOptions = {
  db: SqlClient;
  handlers: HandlerRegistry;
  /** Told each batch's size and transaction time, for metrics. @defaultValue none */
  observer?: SqlWriterObserver | undefined;
  /** Fed each transaction's result: transient failures in a row open it. @defaultValue none */
  breaker?: Pick<Breaker, 'record'> | undefined;
  /** Wraps each batch's write (a span for it, say). @defaultValue none */
  aroundBatch?:
    | ((
        events: readonly CloudEvent[],
        write: () => Promise<Map<string, Outcome>>,
      ) => Promise<Map<string, Outcome>>)
    | undefined;
};

/**
 * Events in, outcomes out: the batcher gathers what every message path submits, the SQL writer
 * makes one transaction of each batch. Closed after the consumer and the retry worker drained.
 */
export function startWritePath(
  config: Config['batch'],
  options: WritePathOptions,
  ctx: StartContext,
): Batcher {
  const writer = createSqlWriter({
    db: options.db,
    handlers: options.handlers,
    logger: ctx.logger.child({ component: 'writer' }),
    ...(options.observer ? { observer: options.observer } : {}),
    ...(options.breaker ? { onResult: options.breaker.record } : {}),
  });
  const { aroundBatch } = options;
  const batcher = createBatcher({
    maxBatchSize: config.maxSize,
    flushMs: config.flushMs,
    write: aroundBatch
      ? (events) => aroundBatch(events, () => writer.writeBatch(events))
      : (events) => writer.writeBatch(events),
  });
  ctx.closer.add('batcher', () => batcher.close());
  return batcher;
}
