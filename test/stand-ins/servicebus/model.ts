import type { Message } from 'rhea';

/** Entity settings a test can give; the defaults are Service Bus's own. */
export type EntityOptions = {
  /** @defaultValue 30000 */
  lockDurationMs?: number;
  /** @defaultValue 10 */
  maxDeliveryCount?: number;
  /** 0 turns duplicate detection off. @defaultValue 0 */
  duplicateDetectionWindowMs?: number;
  /** @defaultValue false */
  deadLetteringOnExpiration?: boolean;
};

export type ResolvedEntityOptions = Required<EntityOptions>;

export const resolveEntityOptions = (options: EntityOptions = {}): ResolvedEntityOptions => ({
  lockDurationMs: options.lockDurationMs ?? 30_000,
  maxDeliveryCount: options.maxDeliveryCount ?? 10,
  duplicateDetectionWindowMs: options.duplicateDetectionWindowMs ?? 0,
  deadLetteringOnExpiration: options.deadLetteringOnExpiration ?? false,
});

export type MessageLock = { token: string; until: number; timer: NodeJS.Timeout };

/** A message as the entity holds it: the sender's AMQP message plus the broker's bookkeeping. */
export type StoredMessage = {
  sequenceNumber: number;
  messageId: string;
  amqp: Message;
  enqueuedAt: number;
  /** Failed deliveries so far (AMQP header.delivery_count). */
  deliveryCount: number;
  deferred: boolean;
  scheduledAt?: number;
  scheduleTimer?: NodeJS.Timeout;
  expiresAt?: number;
  lock?: MessageLock;
  deadLetterSource?: string;
};

export type SettleOutcome =
  | { kind: 'complete' }
  | { kind: 'abandon'; properties?: Record<string, unknown> }
  | { kind: 'defer'; properties?: Record<string, unknown> }
  | { kind: 'dead-letter'; reason?: string; description?: string; properties?: Record<string, unknown> };

/** What a test sees of a message (admin view). */
export type MessageSnapshot = {
  sequenceNumber: number;
  messageId: string;
  state: 'active' | 'locked' | 'deferred' | 'scheduled';
  deliveryCount: number;
  body: unknown;
  applicationProperties: Record<string, unknown>;
  reason?: string;
  description?: string;
  deadLetterSource?: string;
};

/**
 * A completed message and which of its deliveries completed it: 1 is the first (the AMQP
 * header.delivery_count it carried was 0); a defer, an abandon or a lost lock each add one.
 */
export type Completion = { messageId: string; sequenceNumber: number; deliveries: number };

export type EntityCounts = {
  active: number;
  locked: number;
  deferred: number;
  scheduled: number;
  deadLettered: number;
};

/** An AMQP error as Service Bus puts it on a detach, a disposition or a management reply. */
export type BrokerError = { condition: string; description: string; status: number };

export class BrokerFault extends Error {
  readonly condition: string;
  readonly status: number;
  constructor(condition: string, description: string, status: number) {
    super(description);
    this.name = 'BrokerFault';
    this.condition = condition;
    this.status = status;
  }
}

/** Errors are told apart by name, not by class identity. */
export const isBrokerFault = (error: unknown): error is BrokerFault =>
  error instanceof Error && error.name === 'BrokerFault';

export const trackingSuffix = (): string =>
  ` TrackingId:${crypto.randomUUID()}_G1, SystemTracker:keyless-local, Timestamp:${new Date().toISOString()}`;

export const lockLost = (): BrokerFault =>
  new BrokerFault(
    'com.microsoft:message-lock-lost',
    `The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.${trackingSuffix()}`,
    410,
  );
