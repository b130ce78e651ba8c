import { randomUUID } from 'node:crypto';
import rhea, { type Delivery, type EventContext, type Sender } from 'rhea';
import { type Faults, takeSettlementFailure } from './faults.ts';
import type { MessageEntity } from './message-entity.ts';
import { isBrokerFault, lockLost, type SettleOutcome } from './model.ts';
import { isUnwritten, linkCredit, peerIsDraining, sessionHasRoom } from './rhea-internals.ts';
import { lockTokenToTag, tagToLockToken, toWireMessage } from './wire-format.ts';

/** rhea builds outcomes but its typings leave the builders out. */
const outcomes = rhea.message as unknown as { rejected(p: object): { described(): unknown } };
const rejected = (error: { condition: string; description: string }): unknown =>
  outcomes.rejected({ error }).described();
const rejectedWithout = (): unknown => outcomes.rejected({}).described();

type ModifiedState = { undeliverable_here?: boolean; message_annotations?: Record<string, unknown> };
type RejectedState = { error?: { condition?: string; info?: Record<string, unknown> } };

/**
 * The state of our settled reply: the receiver's outcome echoed (rhea calls a stateless disposition an
 * "unrecognised outcome"), except that a dead-letter's error must not come back, or the SDK reads it as a failure.
 */
const settledState = (delivery: Delivery): unknown => {
  const state = delivery.remote_state as unknown as
    | { described?: () => unknown; error?: unknown }
    | undefined;
  if (state?.error !== undefined) return rejectedWithout();
  return state?.described?.();
};

const outcomeOf = (event: string, delivery: Delivery): SettleOutcome => {
  const state = delivery.remote_state as unknown;
  if (event === 'accepted') return { kind: 'complete' };
  if (event === 'modified') {
    const modified = (state ?? {}) as ModifiedState;
    return modified.undeliverable_here
      ? { kind: 'defer', properties: modified.message_annotations }
      : { kind: 'abandon', properties: modified.message_annotations };
  }
  if (event === 'rejected') {
    const { DeadLetterReason, DeadLetterErrorDescription, ...properties } =
      ((state ?? {}) as RejectedState).error?.info ?? {};
    return {
      kind: 'dead-letter',
      reason: DeadLetterReason as string | undefined,
      description: DeadLetterErrorDescription as string | undefined,
      properties,
    };
  }
  return { kind: 'abandon' };
};

/**
 * Serves one receive link: hands out messages within the link credit, answers drain, and applies
 * the receiver's dispositions, replying with a settled disposition (an error one when the lock is gone).
 */
export class Consumer {
  readonly #link: Sender;
  readonly #entity: MessageEntity;
  readonly #peekLock: boolean;
  readonly #faults: Faults;
  #unwritten: Delivery[] = [];
  #stop: () => void;
  readonly #generation: number;

  constructor(link: Sender, entity: MessageEntity, peekLock: boolean, faults: Faults) {
    this.#generation = faults.stallGeneration;
    this.#link = link;
    this.#entity = entity;
    this.#peekLock = peekLock;
    this.#faults = faults;
    this.#stop = entity.onAvailable(() => this.pump());
    link.on('sender_flow', () => this.pump());
    for (const event of ['accepted', 'modified', 'rejected', 'released']) {
      link.on(event, (context: EventContext) => {
        if (context.delivery) this.#settle(context.delivery, outcomeOf(event, context.delivery));
      });
    }
  }

  pump(): void {
    const link = this.#link;
    if (!link.is_open()) return;
    // A stalled link stays attached and keeps its credit but is never served again.
    if (this.#generation < this.#faults.stallGeneration) return;
    this.#unwritten = this.#unwritten.filter((d) => isUnwritten(link, d));
    let room = linkCredit(link) - this.#unwritten.length;
    while (room > 0 && sessionHasRoom(link)) {
      const stored = this.#entity.takeNext();
      if (!stored) break;
      let tag: Buffer;
      if (this.#peekLock) {
        tag = lockTokenToTag(this.#entity.lock(stored));
      } else {
        this.#entity.remove(stored);
        tag = lockTokenToTag(randomUUID());
      }
      const wire = toWireMessage(stored, { state: stored.deferred ? 1 : 0, lockedUntil: stored.lock?.until });
      this.#unwritten.push(link.send(wire, tag));
      room -= 1;
    }
    // Drain: what could be sent was queued above; the rest of the credit is handed back.
    if (peerIsDraining(link) && !this.#entity.hasReady()) link.set_drained(true);
  }

  #settle(delivery: Delivery, outcome: SettleOutcome): void {
    const answer = (): void => {
      try {
        if (takeSettlementFailure(this.#faults, outcome.kind)) throw lockLost();
        this.#entity.settle(tagToLockToken(delivery.tag), outcome);
        delivery.update(true, settledState(delivery));
      } catch (error: unknown) {
        const condition = isBrokerFault(error) ? error.condition : 'amqp:internal-error';
        const description = error instanceof Error ? error.message : String(error);
        delivery.update(true, rejected({ condition, description }));
      }
      // Receiver settle mode 'second': our settled reply ends the exchange, and the SDK sends no
      // final settle. rhea frees a delivery only once both sides settled it, so without this the
      // session's 2,048 outgoing deliveries fill up and the link stops delivering.
      (delivery as Delivery & { remote_settled: boolean }).remote_settled = true;
    };
    if (this.#faults.settlementLatencyMs > 0) setTimeout(answer, this.#faults.settlementLatencyMs).unref();
    else answer();
  }

  close(): void {
    this.#stop();
  }
}
