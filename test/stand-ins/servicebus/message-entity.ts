import { randomUUID } from 'node:crypto';
import type { Message } from 'rhea';
import {
  BrokerFault,
  type Completion,
  type EntityCounts,
  lockLost,
  type MessageSnapshot,
  type ResolvedEntityOptions,
  type SettleOutcome,
  type StoredMessage,
  trackingSuffix,
} from './model.ts';
import { snapshot } from './wire-format.ts';

const SCHEDULED_AT = 'x-opt-scheduled-enqueue-time';

const insertSorted = (list: number[], value: number): void => {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] ?? 0) < value) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, value);
};

const withProperties = (amqp: Message, properties: Record<string, unknown> | undefined): Message =>
  properties && Object.keys(properties).length > 0
    ? { ...amqp, application_properties: { ...(amqp.application_properties ?? {}), ...properties } }
    : amqp;

const timeOf = (value: unknown): number | undefined =>
  value instanceof Date ? value.getTime() : typeof value === 'number' ? value : undefined;

/**
 * One queue, one subscription or one dead-letter subqueue: the messages it holds and their locks.
 * Active messages are handed out lowest sequence number first, as Service Bus does.
 */
export class MessageEntity {
  readonly path: string;
  readonly options: ResolvedEntityOptions;
  readonly deadLetterQueue: MessageEntity | undefined;
  #messages = new Map<number, StoredMessage>();
  #ready: number[] = [];
  #locks = new Map<string, StoredMessage>();
  #nextSequence = 1;
  #listeners = new Set<() => void>();
  #notifyQueued = false;
  #completed: string[] = [];
  #completions: Completion[] = [];
  #deferrals = 0;

  constructor(path: string, options: ResolvedEntityOptions, withDeadLetterQueue: boolean) {
    this.path = path;
    this.options = options;
    this.deadLetterQueue = withDeadLetterQueue
      ? new MessageEntity(`${path}/$DeadLetterQueue`, options, false)
      : undefined;
  }

  /** Called (coalesced, after the current task) whenever a message may have become receivable. */
  onAvailable(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #notify(): void {
    if (this.#notifyQueued) return;
    this.#notifyQueued = true;
    queueMicrotask(() => {
      this.#notifyQueued = false;
      for (const listener of this.#listeners) listener();
    });
  }

  enqueue(amqp: Message, extras: Partial<StoredMessage> = {}): StoredMessage {
    const now = Date.now();
    const messageId = amqp.message_id === undefined ? randomUUID() : String(amqp.message_id);
    const stored: StoredMessage = {
      sequenceNumber: this.#nextSequence++,
      messageId,
      amqp: { ...amqp, message_id: messageId },
      enqueuedAt: now,
      deliveryCount: 0,
      deferred: false,
      ...extras,
    };
    if (typeof amqp.ttl === 'number' && amqp.ttl > 0) stored.expiresAt = now + amqp.ttl;
    this.#messages.set(stored.sequenceNumber, stored);
    const at = timeOf(amqp.message_annotations?.[SCHEDULED_AT]);
    if (at !== undefined && at > now) this.#schedule(stored, at);
    else this.#makeReady(stored);
    return stored;
  }

  #schedule(stored: StoredMessage, at: number): void {
    stored.scheduledAt = at;
    stored.scheduleTimer = setTimeout(
      () => {
        stored.scheduledAt = undefined;
        stored.scheduleTimer = undefined;
        stored.enqueuedAt = Date.now();
        this.#makeReady(stored);
      },
      Math.max(0, at - Date.now()),
    );
    stored.scheduleTimer.unref();
  }

  cancelScheduled(sequenceNumber: number): void {
    const stored = this.#messages.get(sequenceNumber);
    if (!stored || stored.scheduledAt === undefined) return;
    clearTimeout(stored.scheduleTimer);
    this.#messages.delete(sequenceNumber);
  }

  #makeReady(stored: StoredMessage): void {
    insertSorted(this.#ready, stored.sequenceNumber);
    this.#notify();
  }

  hasReady(): boolean {
    return this.#ready.length > 0;
  }

  /** The next receivable message, without a lock yet; expired messages are dropped or dead-lettered. */
  takeNext(): StoredMessage | undefined {
    for (;;) {
      const sequenceNumber = this.#ready.shift();
      if (sequenceNumber === undefined) return undefined;
      const stored = this.#messages.get(sequenceNumber);
      if (!stored) continue;
      if (stored.expiresAt !== undefined && stored.expiresAt <= Date.now()) {
        this.#expire(stored);
        continue;
      }
      return stored;
    }
  }

  #expire(stored: StoredMessage): void {
    if (this.options.deadLetteringOnExpiration) {
      this.#deadLetter(stored, 'TTLExpiredException', 'The message expired and was dead lettered.');
    } else this.#messages.delete(stored.sequenceNumber);
  }

  lock(stored: StoredMessage): string {
    const token = randomUUID();
    const until = Date.now() + this.options.lockDurationMs;
    stored.lock = { token, until, timer: this.#lockTimer(token, until) };
    this.#locks.set(token, stored);
    return token;
  }

  #lockTimer(token: string, until: number): NodeJS.Timeout {
    const timer = setTimeout(() => this.#lockExpired(token), Math.max(0, until - Date.now()));
    timer.unref();
    return timer;
  }

  #unlock(stored: StoredMessage): void {
    if (!stored.lock) return;
    clearTimeout(stored.lock.timer);
    this.#locks.delete(stored.lock.token);
    stored.lock = undefined;
  }

  #lockExpired(token: string): void {
    const stored = this.#locks.get(token);
    if (stored) this.#returnAfterFailedDelivery(stored, undefined);
  }

  /** Lock expiry and abandon both count as a failed delivery. */
  #returnAfterFailedDelivery(stored: StoredMessage, properties: Record<string, unknown> | undefined): void {
    this.#unlock(stored);
    stored.amqp = withProperties(stored.amqp, properties);
    stored.deliveryCount += 1;
    if (stored.deliveryCount >= this.options.maxDeliveryCount) {
      this.#deadLetter(
        stored,
        'MaxDeliveryCountExceeded',
        `Message could not be consumed after ${this.options.maxDeliveryCount} delivery attempts.`,
      );
    } else if (!stored.deferred) this.#makeReady(stored);
  }

  /** Receive-and-delete: the message leaves as it is delivered. */
  remove(stored: StoredMessage): void {
    this.#unlock(stored);
    this.#messages.delete(stored.sequenceNumber);
  }

  lockedMessage(token: string): StoredMessage {
    const stored = this.#locks.get(token);
    if (!stored?.lock || stored.lock.until <= Date.now()) throw lockLost();
    return stored;
  }

  settle(token: string, outcome: SettleOutcome): void {
    const stored = this.lockedMessage(token);
    switch (outcome.kind) {
      case 'complete':
        this.remove(stored);
        this.#completed.push(stored.messageId);
        this.#completions.push({
          messageId: stored.messageId,
          sequenceNumber: stored.sequenceNumber,
          deliveries: stored.deliveryCount + 1,
        });
        return;
      case 'abandon':
        this.#returnAfterFailedDelivery(stored, outcome.properties);
        return;
      case 'defer':
        // Service Bus counts the delivery that ended in a defer: with MaxDeliveryCount 1 a defer
        // dead-letters the message (Azure/azure-service-bus#375).
        stored.deferred = true;
        this.#deferrals += 1;
        this.#returnAfterFailedDelivery(stored, outcome.properties);
        return;
      case 'dead-letter':
        this.#deadLetter(stored, outcome.reason, outcome.description, outcome.properties);
        return;
    }
  }

  renew(token: string): number {
    const stored = this.lockedMessage(token);
    const lock = stored.lock as NonNullable<StoredMessage['lock']>;
    clearTimeout(lock.timer);
    lock.until = Date.now() + this.options.lockDurationMs;
    lock.timer = this.#lockTimer(token, lock.until);
    return lock.until;
  }

  #deadLetter(
    stored: StoredMessage,
    reason: string | undefined,
    description: string | undefined,
    properties?: Record<string, unknown>,
  ): void {
    this.remove(stored);
    const dlq = this.deadLetterQueue;
    if (!dlq) return;
    const info: Record<string, unknown> = { ...properties };
    if (reason !== undefined) info.DeadLetterReason = reason;
    if (description !== undefined) info.DeadLetterErrorDescription = description;
    const { message_annotations: annotations, ...rest } = stored.amqp;
    const { [SCHEDULED_AT]: _scheduled, ...keptAnnotations } = annotations ?? {};
    dlq.enqueue(withProperties({ ...rest, message_annotations: keptAnnotations }, info), {
      deliveryCount: stored.deliveryCount,
      deadLetterSource: this.path,
    });
  }

  /** Messages from a sequence number on, in order: active, locked, deferred and scheduled alike. */
  peek(fromSequenceNumber: number, count: number): StoredMessage[] {
    return [...this.#messages.values()]
      .filter((m) => m.sequenceNumber >= fromSequenceNumber)
      .sort((a, b) => a.sequenceNumber - b.sequenceNumber)
      .slice(0, count);
  }

  /** Deferred messages by sequence number, locked (peek-lock) or removed (receive-and-delete). */
  receiveDeferred(sequenceNumbers: number[], peekLock: boolean): { stored: StoredMessage; token?: string }[] {
    const found = sequenceNumbers.map((n) => {
      const stored = this.#messages.get(n);
      if (!stored?.deferred) {
        throw new BrokerFault(
          'com.microsoft:message-not-found',
          `Failed to retrieve the deferred message with sequence number ${n}: it does not exist or is not deferred.${trackingSuffix()}`,
          404,
        );
      }
      if (stored.lock && stored.lock.until > Date.now()) {
        throw new BrokerFault(
          'com.microsoft:message-lock-lost',
          `The deferred message with sequence number ${n} is locked by another receiver.${trackingSuffix()}`,
          410,
        );
      }
      return stored;
    });
    return found.map((stored) => {
      if (!peekLock) {
        this.remove(stored);
        return { stored };
      }
      return { stored, token: this.lock(stored) };
    });
  }

  counts(): EntityCounts {
    const counts: EntityCounts = { active: 0, locked: 0, deferred: 0, scheduled: 0, deadLettered: 0 };
    for (const m of this.#messages.values()) {
      if (m.scheduledAt !== undefined) counts.scheduled++;
      else if (m.deferred) counts.deferred++;
      else if (m.lock) counts.locked++;
      else counts.active++;
    }
    counts.deadLettered = this.deadLetterQueue ? this.deadLetterQueue.size() : 0;
    return counts;
  }

  size(): number {
    return this.#messages.size;
  }

  snapshots(): MessageSnapshot[] {
    return [...this.#messages.values()].sort((a, b) => a.sequenceNumber - b.sequenceNumber).map(snapshot);
  }

  completedMessageIds(): readonly string[] {
    return this.#completed;
  }

  completions(): readonly Completion[] {
    return this.#completions;
  }

  deferrals(): number {
    return this.#deferrals;
  }

  close(): void {
    for (const m of this.#messages.values()) {
      if (m.lock) clearTimeout(m.lock.timer);
      if (m.scheduleTimer) clearTimeout(m.scheduleTimer);
    }
    this.#listeners.clear();
    this.deadLetterQueue?.close();
  }
}
