/** What the worker consumes: a queue, or a subscription of a topic. */
export type ServiceBusEntity = { queue: string } | { topic: string; subscription: string };

/** The entity's path as Service Bus names it: `queue`, or `topic/Subscriptions/subscription`. */
export const entityPath = (entity: ServiceBusEntity): string =>
  'queue' in entity ? entity.queue : `${entity.topic}/Subscriptions/${entity.subscription}`;
