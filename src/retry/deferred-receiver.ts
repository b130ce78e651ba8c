import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import Long from 'long';

export type DeferredReceiverOptions = {
  /** Sequence numbers in one `receive-by-sequence-number` request at most. @defaultValue 100 */
  maxBatch?: number;
};

export type DeferredReceiver = {
  /** The deferred message, locked; undefined when Service Bus has no such deferred message. */
  receive(sequenceNumber: Long): Promise<ServiceBusReceivedMessage | undefined>;
};

type Waiting = {
  sequenceNumber: Long;
  resolve: (m: ServiceBusReceivedMessage | undefined) => void;
  reject: (e: unknown) => void;
};

/**
 * Receives deferred messages by sequence number, many in one request: the retry jobs that run at
 * the same moment (a backlog after an outage) share one `receiveDeferredMessages` call instead of
 * one round trip each. A request that fails is made again one message at a time, so each job sees
 * its own message's error (a lock still held, a message gone), never another's.
 */
export function createDeferredReceiver(
  receiver: Pick<ServiceBusReceiver, 'receiveDeferredMessages'>,
  options: DeferredReceiverOptions = {},
): DeferredReceiver {
  const maxBatch = options.maxBatch ?? 100;
  let waiting: Waiting[] = [];
  let scheduled = false;

  const one = (w: Waiting): void => {
    receiver.receiveDeferredMessages(w.sequenceNumber).then(([m]) => w.resolve(m), w.reject);
  };

  const flush = (): void => {
    scheduled = false;
    const batch = waiting;
    waiting = [];
    for (let i = 0; i < batch.length; i += maxBatch) {
      const part = batch.slice(i, i + maxBatch);
      if (part.length === 1) {
        one(part[0] as Waiting);
        continue;
      }
      receiver.receiveDeferredMessages(part.map((w) => w.sequenceNumber)).then(
        (messages) => {
          const bySequence = new Map(messages.map((m) => [String(m.sequenceNumber), m]));
          for (const w of part) w.resolve(bySequence.get(w.sequenceNumber.toString()));
        },
        () => {
          for (const w of part) one(w);
        },
      );
    }
  };

  return {
    receive(sequenceNumber) {
      return new Promise((resolve, reject) => {
        waiting.push({ sequenceNumber: Long.fromValue(sequenceNumber), resolve, reject });
        if (!scheduled) {
          scheduled = true;
          // The jobs BullMQ starts in one go get here within a turn of the event loop.
          setImmediate(flush);
        }
      });
    },
  };
}
