import type { ServiceBusReceiverOptions } from '@azure/service-bus';

import type { ServiceBusEntity } from '../config-types.ts';

export type { ServiceBusEntity };

/** The entity's path as Service Bus names it: `queue`, or `topic/Subscriptions/subscription`. */
export const entityPath = (entity: ServiceBusEntity): string =>
  'queue' in entity ? entity.queue : `${entity.topic}/Subscriptions/${entity.subscription}`;

/** What creating a receiver needs; `ServiceBusClient` satisfies it, and so can a fake. */
export type ReceiverFactory<R> = {
  createReceiver(
    queueOrTopic: string,
    subscriptionOrOptions?: string | ServiceBusReceiverOptions,
    options?: ServiceBusReceiverOptions,
  ): R;
};

/** A receiver of the queue or of the topic's subscription, whichever the entity is. */
export const createEntityReceiver = <R>(
  client: ReceiverFactory<R>,
  entity: ServiceBusEntity,
  options?: ServiceBusReceiverOptions,
): R =>
  'queue' in entity
    ? client.createReceiver(entity.queue, options)
    : client.createReceiver(entity.topic, entity.subscription, options);
