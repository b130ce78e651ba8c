import type { ProcessErrorArgs, ServiceBusReceiver, ServiceBusReceiverOptions } from '@azure/service-bus';
import type { Logger } from 'pino';
import { defaults } from '../defaults.ts';
import type { Breaker } from '../pipeline/breaker.ts';
import type { ServiceBusEntity } from './entity.ts';
import type { MessagePath, PathCounts } from './message-path.ts';
import type { WatchdogOptions } from './watchdog.ts';

/** The receiver calls the consumer makes; `ServiceBusReceiver` satisfies it, and so can a fake. */
export type ConsumerReceiver = Pick<
  ServiceBusReceiver,
  | 'subscribe'
  | 'completeMessage'
  | 'abandonMessage'
  | 'deferMessage'
  | 'deadLetterMessage'
  | 'renewMessageLock'
  | 'peekMessages'
  | 'close'
>;

/** The client calls the consumer makes; `ServiceBusClient` satisfies it, and so can a fake. */
export type ConsumerClient = {
  createReceiver(
    queueOrTopic: string,
    subscriptionOrOptions?: string | ServiceBusReceiverOptions,
    options?: ServiceBusReceiverOptions,
  ): ConsumerReceiver;
};

export type ConsumerOptions = {
  client: ConsumerClient;
  entity: ServiceBusEntity;
  /** What each message goes through: the same path as the retry worker's. */
  path: MessagePath;
  logger: Logger;
  /** Messages handled at once, which is also the credit window (messages held locked). @defaultValue 256 */
  concurrency?: number;
  /** On close, how long in-flight messages may take before they are abandoned. @defaultValue 25000 (SHUTDOWN_GRACE_MS) */
  drainGraceMs?: number;
  /** Stalled-receiver detection; `false` turns it off. @defaultValue { idleMs: 60000 } */
  watchdog?: WatchdogOptions | false;
  /** Told what happens to the receiver, for metrics. @defaultValue none */
  observer?: ConsumerObserver;
  /**
   * The write path's breaker: while it is not closed the consumer takes no new messages (its
   * subscription is stopped, the credit drained); the ones it holds wait, locks renewed. @defaultValue none
   */
  breaker?: Pick<Breaker, 'state' | 'onChange'>;
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number;
};

/** Hooks the consumer calls about its receiver; what happens to messages goes to the path's observer. */
export type ConsumerObserver = {
  /** An error the SDK reported while receiving. */
  receiveError?(errorSource: ProcessErrorArgs['errorSource'], code: string | undefined): void;
  /** The watchdog replaced a stalled receiver. */
  receiverRestarted?(): void;
};

export type ConsumerState = 'idle' | 'running' | 'draining' | 'closed';

/** What the consumer's messages came to (the path's counts of its source), and the receiver's state. */
export type ConsumerStats = PathCounts & {
  state: ConsumerState;
  /** Taking no new messages because the database is down (the breaker is not closed). */
  paused: boolean;
  inFlight: number;
  receiverRestarts: number;
  /** When the last message arrived, ms since the epoch; undefined before the first. */
  lastMessageAt: number | undefined;
  /** Running with its receive link open: what readiness reports. */
  receiverOpen: boolean;
};

export type ConsumerErrorCode = 'InvalidOptions' | 'Closed';

/** A consumer used wrongly: bad options at construction, or start() after close(). */
export class ConsumerError extends Error {
  override readonly name = 'ConsumerError';
  readonly code: ConsumerErrorCode;
  constructor(code: ConsumerErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

export type ResolvedConsumerOptions = Required<Omit<ConsumerOptions, 'watchdog' | 'observer' | 'breaker'>> & {
  watchdog: Required<WatchdogOptions> | false;
  observer: ConsumerObserver;
  breaker: ConsumerOptions['breaker'];
};

const positiveInteger = (name: string, value: number): number => {
  if (!Number.isInteger(value) || value < 1) {
    throw new ConsumerError('InvalidOptions', `${name} must be a positive integer, got ${value}`);
  }
  return value;
};

/** Fills defaults and rejects settings that would break an invariant. */
export function resolveConsumerOptions(options: ConsumerOptions): ResolvedConsumerOptions {
  const concurrency = positiveInteger('concurrency', options.concurrency ?? defaults.serviceBusConcurrency);
  const drainGraceMs = options.drainGraceMs ?? defaults.shutdownGraceMs;
  if (!Number.isFinite(drainGraceMs) || drainGraceMs < 0) {
    throw new ConsumerError('InvalidOptions', `drainGraceMs must be >= 0, got ${drainGraceMs}`);
  }
  let watchdog: Required<WatchdogOptions> | false = false;
  if (options.watchdog !== false) {
    const idleMs = positiveInteger('watchdog.idleMs', options.watchdog?.idleMs ?? defaults.watchdogIdleMs);
    const checkIntervalMs = positiveInteger(
      'watchdog.checkIntervalMs',
      options.watchdog?.checkIntervalMs ?? Math.max(1, Math.floor(idleMs / 2)),
    );
    watchdog = { idleMs, checkIntervalMs };
  }
  return {
    ...options,
    concurrency,
    drainGraceMs,
    watchdog,
    observer: options.observer ?? {},
    breaker: options.breaker,
    now: options.now ?? Date.now,
  };
}
