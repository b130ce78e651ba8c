import type {
  ProcessErrorArgs,
  ServiceBusErrorCode,
  ServiceBusReceivedMessage,
  ServiceBusReceiverOptions,
} from '@azure/service-bus';
import type { Logger } from 'pino';
import { cloudEventReceiverOptions } from '../cloudevents/envelope.ts';
import type { ConsumerClient, ConsumerReceiver } from './consumer-options.ts';
import { createEntityReceiver, type ServiceBusEntity } from './entity.ts';
import { serviceBusCode } from './errors.ts';
import { receiverLinkOpen } from './link-state.ts';

// Service Bus error codes that no reconnect will fix: someone has to act.
const permanentReceiveCodes: ReadonlySet<string> = new Set<ServiceBusErrorCode>([
  'UnauthorizedAccess',
  'MessagingEntityNotFound',
  'MessagingEntityDisabled',
]);

export type ReceiverLinkOptions = {
  client: ConsumerClient;
  entity: ServiceBusEntity;
  /** Messages held at once: the credit window, and the SDK's concurrent `onMessage` calls. */
  creditWindow: number;
  /** Called once per delivered message with the receiver that must settle it. */
  onMessage: (from: ConsumerReceiver, message: ServiceBusReceivedMessage) => Promise<void>;
  /** Told of each error the SDK reports while receiving (`renewLock`: a lock renewal failed). */
  onReceiveError?: (source: ProcessErrorArgs['errorSource'], code: string | undefined) => void;
  logger: Logger;
  now: () => number;
};

export type ReceiverLink = {
  /**
   * Opens a receiver and starts delivery, or only opens it with `deliver` false (a paused consumer:
   * `resume()` starts it); a link already open is left as it is.
   */
  open(deliver?: boolean): void;
  /** Stops delivery; messages already delivered can still be settled on the open receiver. */
  stop(): Promise<void>;
  /**
   * Delivers again on the same receiver after `stop()`, once that stop's drain is over; nothing when
   * none is open or it delivers already.
   */
  resume(): void;
  /** Stops delivery, waits for `settled` (deliveries settle on this receiver), closes the receiver. */
  close(settled: () => Promise<void>): Promise<void>;
  /** Whether messages nobody holds a lock on wait in the entity (a peek with a fresh receiver). */
  hasWaitingMessages(): Promise<boolean>;
  /** Whether the receive link is attached (readiness). */
  isOpen(): boolean;
};

/**
 * The receive link of a consumer: peek-lock, manual settlement, raw bodies; the consumer renews
 * the locks of the messages it holds.
 */
export function createReceiverLink(options: ReceiverLinkOptions): ReceiverLink {
  const { client, entity, logger } = options;
  let receiver: ConsumerReceiver | undefined;
  let subscription: { close(): Promise<void> } | undefined;
  // A stop drains the link's credit. A resume that subscribed during that drain would add credit the
  // drain's answer then takes back, leaving the link with none: it subscribes once the drain is over.
  let stopping: Promise<void> | undefined;
  let wanted = false;

  const receiverOptions: ServiceBusReceiverOptions = {
    receiveMode: 'peekLock',
    // The consumer renews each held message's lock itself (lock-renewal.ts): the SDK's renewal
    // outlives a failed settlement of a message received before a reconnect.
    maxAutoLockRenewalDurationInMs: 0,
    ...cloudEventReceiverOptions,
  };
  const createReceiver = (): ConsumerReceiver => createEntityReceiver(client, entity, receiverOptions);

  const processError = async (args: ProcessErrorArgs): Promise<void> => {
    const code = serviceBusCode(args.error);
    const level = code && permanentReceiveCodes.has(code) ? 'error' : 'warn';
    logger[level](
      { stage: 'receive', errorSource: args.errorSource, code, err: args.error },
      'Service Bus receive error; the SDK reconnects by itself',
    );
    options.onReceiveError?.(args.errorSource, code);
  };

  const subscribe = (current: ConsumerReceiver): void => {
    subscription = current.subscribe(
      { processMessage: (message) => options.onMessage(current, message), processError },
      { autoCompleteMessages: false, maxConcurrentCalls: options.creditWindow },
    );
  };

  const subscribeIfWanted = (): void => {
    if (wanted && receiver && !subscription && !stopping) subscribe(receiver);
  };

  const stop = async (): Promise<void> => {
    wanted = false;
    const sub = subscription;
    subscription = undefined;
    if (sub) {
      const closing: Promise<void> = sub.close().finally(() => {
        if (stopping !== closing) return;
        stopping = undefined;
        subscribeIfWanted();
      });
      stopping = closing;
    }
    await stopping;
  };

  return {
    open(deliver = true) {
      if (receiver) return;
      receiver = createReceiver();
      wanted = deliver;
      subscribeIfWanted();
    },
    stop,
    resume() {
      wanted = true;
      subscribeIfWanted();
    },
    async close(settled) {
      const rec = receiver;
      receiver = undefined;
      // Each step runs even when the one before failed: a stuck subscription must not leak the link.
      for (const step of [stop, settled, () => rec?.close()]) {
        try {
          await step();
        } catch (error: unknown) {
          logger.warn({ stage: 'receive', err: error }, 'closing the receiver failed');
        }
      }
    },
    isOpen: () => receiverLinkOpen(receiver),
    async hasWaitingMessages() {
      // A fresh receiver peeks from the start: a receiver's own peek cursor only moves forward.
      const peeker = createReceiver();
      try {
        const now = options.now();
        const peeked = await peeker.peekMessages(options.creditWindow);
        return peeked.some(
          (m) => m.state === 'active' && !(m.lockedUntilUtc && m.lockedUntilUtc.getTime() > now),
        );
      } finally {
        await peeker.close();
      }
    },
  };
}
