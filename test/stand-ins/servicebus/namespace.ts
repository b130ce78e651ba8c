import type { Message } from 'rhea';
import { createDuplicateDetector, type DuplicateDetector } from './duplicate-detector.ts';
import { MessageEntity } from './message-entity.ts';
import { BrokerFault, type EntityOptions, resolveEntityOptions, trackingSuffix } from './model.ts';

type Queue = { name: string; entity: MessageEntity; duplicates: DuplicateDetector };
type Topic = {
  name: string;
  subscriptions: Map<string, MessageEntity>;
  duplicates: DuplicateDetector;
  scheduled: Map<number, { entity: MessageEntity; sequenceNumber: number }[]>;
  nextSequence: number;
};

/** What an address (`queue`, `topic/Subscriptions/sub`, either `/$DeadLetterQueue`) refers to. */
export type ResolvedAddress = {
  /** The queue or topic path, as tokens are put for it. */
  entityPath: string;
  /** RBAC scope a role must cover. */
  scope: string;
  /** Where a receive link takes messages from; undefined for a topic. */
  source: MessageEntity | undefined;
  /** Accepts a message for the entity (queue or topic); undefined for subscriptions and DLQs. */
  target: SendTarget | undefined;
};

export type SendTarget = {
  /** Returns false when duplicate detection drops the message. */
  send(message: Message): boolean;
  /** Returns the sequence number the message is scheduled under. */
  schedule(message: Message): number;
  cancel(sequenceNumber: number): void;
};

const notFound = (host: string, path: string): BrokerFault =>
  new BrokerFault(
    'amqp:not-found',
    `The messaging entity 'sb://${host}/${path}' could not be found. To know more visit https://aka.ms/sbResourceMgrExceptions.${trackingSuffix()}`,
    404,
  );

/** The queues and topics of one namespace, found case-insensitively as Service Bus does. */
export class Namespace {
  readonly host: string;
  readonly resourceId: string;
  #queues = new Map<string, Queue>();
  #topics = new Map<string, Topic>();

  constructor(host: string, resourceId: string) {
    this.host = host;
    this.resourceId = resourceId;
  }

  createQueue(name: string, options?: EntityOptions): void {
    const resolved = resolveEntityOptions(options);
    this.#queues.set(name.toLowerCase(), {
      name,
      entity: new MessageEntity(name, resolved, true),
      duplicates: createDuplicateDetector(resolved.duplicateDetectionWindowMs),
    });
  }

  createTopic(name: string, options?: EntityOptions): void {
    const resolved = resolveEntityOptions(options);
    this.#topics.set(name.toLowerCase(), {
      name,
      subscriptions: new Map(),
      duplicates: createDuplicateDetector(resolved.duplicateDetectionWindowMs),
      scheduled: new Map(),
      nextSequence: 1,
    });
  }

  createSubscription(topicName: string, name: string, options?: EntityOptions): void {
    const topic = this.#topics.get(topicName.toLowerCase());
    if (!topic) throw notFound(this.host, topicName);
    const path = `${topic.name}/Subscriptions/${name}`;
    topic.subscriptions.set(name.toLowerCase(), new MessageEntity(path, resolveEntityOptions(options), true));
  }

  /** Throws `amqp:not-found` for an address that names no entity. */
  resolve(address: string): ResolvedAddress {
    const path = address.replace(/^\/+/, '').replace(/\/\$management$/i, '');
    const parts = path.split('/');
    const deadLetter = parts.at(-1)?.toLowerCase() === '$deadletterqueue';
    if (deadLetter) parts.pop();
    const [first = '', middle, last] = parts.map((p) => p.toLowerCase());
    const queue = this.#queues.get(first);
    if (queue && parts.length === 1) {
      return {
        entityPath: queue.name,
        scope: `${this.resourceId}/queues/${queue.name}`,
        source: deadLetter ? queue.entity.deadLetterQueue : queue.entity,
        target: deadLetter ? undefined : this.#queueTarget(queue),
      };
    }
    const topic = this.#topics.get(first);
    if (topic && parts.length === 1 && !deadLetter) {
      return {
        entityPath: topic.name,
        scope: `${this.resourceId}/topics/${topic.name}`,
        source: undefined,
        target: this.#topicTarget(topic),
      };
    }
    const subscription =
      topic && middle === 'subscriptions' && last ? topic.subscriptions.get(last) : undefined;
    if (topic && subscription && parts.length === 3) {
      return {
        entityPath: subscription.path,
        scope: `${this.resourceId}/topics/${topic.name}/subscriptions/${parts[2]}`,
        source: deadLetter ? subscription.deadLetterQueue : subscription,
        target: undefined,
      };
    }
    throw notFound(this.host, path);
  }

  #queueTarget(queue: Queue): SendTarget {
    return {
      send: (message) => {
        if (this.#duplicate(queue.duplicates, message)) return false;
        queue.entity.enqueue(message);
        return true;
      },
      schedule: (message) => {
        if (this.#duplicate(queue.duplicates, message)) return 0;
        return queue.entity.enqueue(message).sequenceNumber;
      },
      cancel: (sequenceNumber) => queue.entity.cancelScheduled(sequenceNumber),
    };
  }

  #topicTarget(topic: Topic): SendTarget {
    const fanOut = (message: Message) =>
      [...topic.subscriptions.values()].map((entity) => ({
        entity,
        sequenceNumber: entity.enqueue(message).sequenceNumber,
      }));
    return {
      send: (message) => {
        if (this.#duplicate(topic.duplicates, message)) return false;
        fanOut(message);
        return true;
      },
      schedule: (message) => {
        if (this.#duplicate(topic.duplicates, message)) return 0;
        const sequenceNumber = topic.nextSequence++;
        topic.scheduled.set(sequenceNumber, fanOut(message));
        return sequenceNumber;
      },
      cancel: (sequenceNumber) => {
        for (const copy of topic.scheduled.get(sequenceNumber) ?? [])
          copy.entity.cancelScheduled(copy.sequenceNumber);
        topic.scheduled.delete(sequenceNumber);
      },
    };
  }

  #duplicate(detector: DuplicateDetector, message: Message): boolean {
    return message.message_id !== undefined && detector.isDuplicate(String(message.message_id));
  }

  /** The entity a test names: `queue`, `topic/Subscriptions/sub`, either with `/$DeadLetterQueue`. */
  entity(path: string): MessageEntity {
    const source = this.resolve(path).source;
    if (!source) throw notFound(this.host, path);
    return source;
  }

  close(): void {
    for (const queue of this.#queues.values()) queue.entity.close();
    for (const topic of this.#topics.values()) for (const sub of topic.subscriptions.values()) sub.close();
  }
}
