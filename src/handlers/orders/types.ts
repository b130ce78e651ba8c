import type { SqlExecutor } from '../../sql/client.ts';
import type { CloudEvent } from '../event.ts';

/**
 * The SQL side of an event type: writes a batch of validated events of that type, set-based, in
 * the writer's transaction. It must be idempotent per order (events may repeat under new ids) and
 * must not depend on the order of events, as a batch may be split to isolate a poison message.
 */
export type SqlWriteHandler = {
  readonly type: string;
  write(events: readonly CloudEvent[], tx: SqlExecutor): Promise<void>;
};
