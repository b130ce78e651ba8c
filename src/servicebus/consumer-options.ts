import type {
  ProcessErrorArgs,
  ServiceBusReceivedMessage,
  ServiceBusReceiver,
  ServiceBusReceiverOptions,
} from '@azure/service-bus';
import type { Logger } from 'pino';
import { defaults } from '../defaults.ts';
import type { EventSchemas } from '../handlers/registry.ts';
import type { CloudEvent } from '../pipeline/cloud-event.ts';
import type { Outcome } from '../pipeline/outcome.ts';
import type { ServiceBusEntity } from './entity.ts';
import type { SettlementReport } from './settle.ts';
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

/** What `handle` gets besides the event. */
export type HandleContext = {
  /** Child logger carrying messageId, sequenceNumber and deliveryCount. */
  logger: Logger;
  /** Aborted when shutdown's grace period ends: the message is being abandoned, stop working on it. */
  signal: AbortSignal;
  /** The received message, for its sequence number, delivery count and enqueued time. */
  message: ServiceBusReceivedMessage;
};

export type ConsumerOptions = {
  client: ConsumerClient;
  entity: ServiceBusEntity;
  /** Event type → data schema; other types are dead-lettered as `UnknownType`. */
  schemas: EventSchemas;
  /** Decides a valid event's outcome; a throw counts as a transient failure (abandon). */
  handle: (event: CloudEvent, ctx: HandleContext) => Promise<Outcome>;
  logger: Logger;
  /** Messages handled at once, which is also the credit window (messages held locked). @defaultValue 256 */
  concurrency?: number;
  /** How long locks are renewed for one message; must cover the slowest handling. @defaultValue 300000 */
  lockRenewalMaxMs?: number;
  /** On close, how long in-flight messages may take before they are abandoned. @defaultValue 25000 (SHUTDOWN_GRACE_MS) */
  drainGraceMs?: number;
  /** How long one settlement may take before it counts as failed (its lock then expires). @defaultValue 10000 */
  settleTimeoutMs?: number;
  /** Stalled-receiver detection; `false` turns it off. @defaultValue { idleMs: 60000 } */
  watchdog?: WatchdogOptions | false;
  /** Told what happens to messages and the receiver, for metrics and traces. @defaultValue none */
  observer?: ConsumerObserver;
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number;
};

/** Hooks the consumer calls synchronously; a throw is logged and ignored. */
export type ConsumerObserver = {
  /** May return fields (trace ids) for the message's log lines. */
  received?(message: ServiceBusReceivedMessage): Record<string, string> | undefined;
  /** A valid event's outcome is decided (its effect committed when `complete`), before settlement. */
  decided?(message: ServiceBusReceivedMessage, outcome: Outcome): void;
  settling?(message: ServiceBusReceivedMessage, outcome: Outcome): void;
  settled?(report: SettlementReport, outcome: Outcome, message: ServiceBusReceivedMessage): void;
  /** An error the SDK reported: `renewLock` when it failed to renew a message's lock. */
  receiveError?(errorSource: ProcessErrorArgs['errorSource'], code: string | undefined): void;
  /** The watchdog replaced a stalled receiver. */
  receiverRestarted?(): void;
};

const hooks = ['received', 'decided', 'settling', 'settled', 'receiveError', 'receiverRestarted'] as const;

function fanOut(
  observers: readonly ConsumerObserver[],
  onError?: (error: unknown, hook: string) => void,
): Required<ConsumerObserver> {
  const each =
    (hook: (typeof hooks)[number]) =>
    (...args: never[]) => {
      let fields: Record<string, string> | undefined;
      for (const o of observers) {
        try {
          const r = (o[hook] as ((...a: never[]) => unknown) | undefined)?.(...args);
          if (r && typeof r === 'object') fields = { ...fields, ...(r as Record<string, string>) };
        } catch (error: unknown) {
          if (!onError) throw error;
          onError(error, hook);
        }
      }
      return fields;
    };
  return Object.fromEntries(hooks.map((h) => [h, each(h)])) as unknown as Required<ConsumerObserver>;
}

/** One observer that calls each of `observers` in turn; fields returned by `received` are merged. */
export const combineObservers = (...observers: ConsumerObserver[]): ConsumerObserver => fanOut(observers);

/** The observer with every hook guarded: metrics and traces must never change what happens to a message. */
export const guardObserver = (
  observer: ConsumerObserver,
  onError: (error: unknown, hook: string) => void,
): Required<ConsumerObserver> => fanOut([observer], onError);

export type ConsumerState = 'idle' | 'running' | 'draining' | 'closed';

export type ConsumerStats = {
  state: ConsumerState;
  inFlight: number;
  received: number;
  completed: number;
  deadLettered: number;
  abandoned: number;
  deferred: number;
  settleFailures: number;
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

export type ResolvedConsumerOptions = Required<Omit<ConsumerOptions, 'watchdog' | 'observer'>> & {
  watchdog: Required<WatchdogOptions> | false;
  observer: ConsumerObserver;
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
  const lockRenewalMaxMs = positiveInteger(
    'lockRenewalMaxMs',
    options.lockRenewalMaxMs ?? defaults.lockRenewalMaxMs,
  );
  const drainGraceMs = options.drainGraceMs ?? defaults.shutdownGraceMs;
  if (!Number.isFinite(drainGraceMs) || drainGraceMs < 0) {
    throw new ConsumerError('InvalidOptions', `drainGraceMs must be >= 0, got ${drainGraceMs}`);
  }
  // A message still draining must keep its lock, or another replica gets it while we still write it.
  if (lockRenewalMaxMs < drainGraceMs) {
    throw new ConsumerError(
      'InvalidOptions',
      `lockRenewalMaxMs (${lockRenewalMaxMs}) must be at least drainGraceMs (${drainGraceMs})`,
    );
  }
  const settleTimeoutMs = positiveInteger(
    'settleTimeoutMs',
    options.settleTimeoutMs ?? defaults.settleTimeoutMs,
  );
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
    lockRenewalMaxMs,
    drainGraceMs,
    settleTimeoutMs,
    watchdog,
    observer: options.observer ?? {},
    now: options.now ?? Date.now,
  };
}
