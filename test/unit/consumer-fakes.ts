import type {
  MessageHandlers,
  ServiceBusReceivedMessage,
  ServiceBusReceiverOptions,
  SubscribeOptions,
} from '@azure/service-bus';
import { type Logger, pino } from 'pino';
import type { CloudEvent } from '../../src/cloudevents/cloud-event.ts';
import { toServiceBusMessage } from '../../src/cloudevents/envelope.ts';
import type { ConsumerClient, ConsumerReceiver } from '../../src/servicebus/consumer-options.ts';
import { parcelStatusChangedType } from '../fixtures/parcels/events.ts';

export type Settlement = { kind: string; messageId: unknown; options?: unknown };

/** A receiver that records what the consumer asks of it; tests deliver messages through `handlers`. */
export type FakeReceiver = ConsumerReceiver & {
  args: unknown[];
  handlers?: MessageHandlers;
  subscribeOptions?: SubscribeOptions;
  settlements: Settlement[];
  /** Message ids whose lock the consumer renewed, once per renewal. */
  renewals: unknown[];
  /** How long each renewal extends a lock. @defaultValue 30000 */
  lockDurationMs?: number;
  subscriptionClosed: boolean;
  closed: boolean;
  /** What the next settlement call throws, once. */
  failNextSettlement?: unknown;
  /** The next settlement call never answers, as on a connection that died. */
  hangNextSettlement?: boolean;
  /** What every lock renewal throws, as when the lock is lost. */
  failRenewals?: unknown;
  deliver(message: ServiceBusReceivedMessage): Promise<void>;
};

export function fakeClient(peekable: () => ServiceBusReceivedMessage[] = () => []) {
  const receivers: FakeReceiver[] = [];
  const client: ConsumerClient = {
    createReceiver(...args: unknown[]) {
      const receiver: FakeReceiver = {
        args,
        settlements: [],
        renewals: [],
        subscriptionClosed: false,
        closed: false,
        subscribe(handlers, options) {
          receiver.handlers = handlers;
          receiver.subscribeOptions = options;
          return {
            close: async () => {
              receiver.subscriptionClosed = true;
            },
          };
        },
        completeMessage: async (m) => record('complete', m),
        abandonMessage: async (m) => record('abandon', m),
        deferMessage: async (m) => record('defer', m),
        deadLetterMessage: async (m, options) => record('deadLetter', m, options),
        renewMessageLock: async (m) => {
          if (receiver.failRenewals !== undefined) throw receiver.failRenewals;
          receiver.renewals.push(m.messageId);
          const until = new Date(Date.now() + (receiver.lockDurationMs ?? 30_000));
          (m as { lockedUntilUtc?: Date }).lockedUntilUtc = until;
          return until;
        },
        peekMessages: async () => peekable(),
        close: async () => {
          receiver.closed = true;
        },
        deliver: async (message) => {
          if (!receiver.handlers) throw new Error('not subscribed');
          await receiver.handlers.processMessage(message);
        },
      };
      const record = async (kind: string, m: ServiceBusReceivedMessage, options?: unknown) => {
        if (receiver.hangNextSettlement) {
          receiver.hangNextSettlement = false;
          await new Promise(() => {});
        }
        if (receiver.failNextSettlement !== undefined) {
          const error = receiver.failNextSettlement;
          receiver.failNextSettlement = undefined;
          throw error;
        }
        receiver.settlements.push({ kind, messageId: m.messageId, ...(options ? { options } : {}) });
      };
      receivers.push(receiver);
      return receiver;
    },
  };
  return { client, receivers };
}

export const receiverOptionsOf = (receiver: FakeReceiver) =>
  receiver.args.find((a) => typeof a === 'object') as ServiceBusReceiverOptions;

let sequence = 0;

/** A received message as the SDK gives it with skipParsingBodyAsJson: the body as bytes. */
export function received(
  patch: Partial<Record<keyof ServiceBusReceivedMessage, unknown>> = {},
): ServiceBusReceivedMessage {
  sequence++;
  return {
    messageId: `m-${sequence}`,
    sequenceNumber: { toString: () => String(sequence) },
    deliveryCount: 0,
    state: 'active',
    ...patch,
  } as unknown as ServiceBusReceivedMessage;
}

export function receivedEvent(id: string, data: unknown = validStatusChange): ServiceBusReceivedMessage {
  const event: CloudEvent = {
    specversion: '1.0',
    id,
    source: '/test',
    type: parcelStatusChangedType,
    data,
  };
  const message = toServiceBusMessage(event, 'structured');
  return received({ ...message });
}

export const validStatusChange = {
  parcelId: '3f1c7a52-8c1e-4b8e-9a57-2f4d1f0b9c11',
  status: 'delivered',
  version: 3,
};

/** A pino logger whose records land in `lines`, parsed. */
export function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(line: string) {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  );
  return { logger, lines };
}

/** A promise with its resolve function, for handlers that finish when a test says so. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
