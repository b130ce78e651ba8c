import { type Consumer, createConsumer } from '../../src/servicebus/consumer.ts';
import type { ConsumerObserver, ConsumerOptions } from '../../src/servicebus/consumer-options.ts';
import { entityPath } from '../../src/servicebus/entity.ts';
import {
  createMessagePath,
  type MessageObserver,
  type MessagePathOptions,
} from '../../src/servicebus/message-path.ts';
import { parcels } from '../fixtures/parcels/events.ts';

export type TestConsumerOptions = Omit<ConsumerOptions, 'path' | 'observer'> &
  Partial<Omit<MessagePathOptions, 'logger' | 'observer'>> & {
    observer?: MessageObserver & ConsumerObserver;
  };

/**
 * A consumer on the message path the worker builds, over the fixture domain's schemas: the path's
 * options (handle, lock renewal, settle timeout) and the consumer's in one object; `observer` is
 * told of both the messages and the receiver.
 */
export function createTestConsumer(options: TestConsumerOptions): Consumer {
  const { schemas, handle, observer, lockRenewalMaxMs, settleTimeoutMs, now, ...consumer } = options;
  const path = createMessagePath({
    schemas: schemas ?? parcels.schemas,
    handle: handle ?? (async () => ({ kind: 'complete' })),
    logger: options.logger.child({ entity: entityPath(options.entity) }),
    ...(observer ? { observer } : {}),
    ...(lockRenewalMaxMs ? { lockRenewalMaxMs } : {}),
    ...(settleTimeoutMs ? { settleTimeoutMs } : {}),
    ...(now ? { now } : {}),
  });
  return createConsumer({ ...consumer, ...(now ? { now } : {}), ...(observer ? { observer } : {}), path });
}
