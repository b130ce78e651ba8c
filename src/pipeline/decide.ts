import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import type { Logger } from 'pino';
import type { CloudEvent } from '../cloudevents/cloud-event.ts';
import { type EventSchemas, type ParseOptions, parseCloudEvent } from '../cloudevents/envelope.ts';
import type { Outcome } from './outcome.ts';

/** What `handle` gets besides the event. */
export type HandleContext = {
  /** Child logger carrying messageId, sequenceNumber and deliveryCount. */
  logger: Logger;
  /** Aborted when shutdown's grace period ends: the message is being abandoned, stop working on it. */
  signal: AbortSignal;
  /** The received message, for its sequence number, delivery count and enqueued time. */
  message: ServiceBusReceivedMessage;
};

/** Decides a valid event's outcome; a throw counts as a failure that is not retried (abandon). */
export type Handle = (event: CloudEvent, ctx: HandleContext) => Promise<Outcome>;

/** An outcome and the stage that decided it: an invalid message at 'validate', a write at 'write'. */
export type Decision = { outcome: Outcome; stage: 'validate' | 'write' };

export type DecideOptions = {
  schemas: EventSchemas;
  handle: Handle;
  /** Aborted when the drain grace period ends: the message is abandoned without waiting for `handle`. */
  signal: AbortSignal;
  /** How the receiving call handed the message over. @defaultValue {} */
  parse?: ParseOptions;
};

// One abort listener per signal, shared by the messages waiting on it: EventTarget's add and
// remove cost several µs each under load, a Set's next to nothing.
const waiting = new WeakMap<AbortSignal, Set<() => void>>();

const whenAborted = (signal: AbortSignal, onAbort: () => void): (() => void) => {
  let waiters = waiting.get(signal);
  if (!waiters) {
    const created = new Set<() => void>();
    waiters = created;
    waiting.set(signal, created);
    signal.addEventListener(
      'abort',
      () => {
        for (const w of created) w();
        created.clear();
      },
      { once: true },
    );
  }
  waiters.add(onAbort);
  const registered = waiters;
  return () => registered.delete(onAbort);
};

/** Decisions waiting on `signal` now; for the leak guard. */
export const waitingOn = (signal: AbortSignal): number => waiting.get(signal)?.size ?? 0;

const shutdownAbandon = (): Outcome => ({
  kind: 'abandon',
  error: new Error('shutdown grace period ended before handling finished'),
});

/**
 * Decides one message's outcome: dead-letter when it is not a valid event, otherwise what `handle`
 * says, a throw being a transient failure (abandon), the end of the drain grace period too. Never
 * rejects, and leaves nothing behind once it resolves: its abort waiter is removed and no promise
 * of its own stays pending (a worker handles millions of messages on one signal).
 */
export function decide(
  message: ServiceBusReceivedMessage,
  log: Logger,
  options: DecideOptions,
): Promise<Decision> {
  const parsed = parseCloudEvent(message, options.schemas, options.parse);
  if (!parsed.ok) {
    return Promise.resolve({
      outcome: { kind: 'deadLetter', reason: parsed.reason, description: parsed.description },
      stage: 'validate',
    });
  }
  const { signal } = options;
  if (signal.aborted) return Promise.resolve({ outcome: shutdownAbandon(), stage: 'write' });
  const { event } = parsed;
  return new Promise<Decision>((resolve) => {
    const stopWaiting = whenAborted(signal, () => resolve({ outcome: shutdownAbandon(), stage: 'write' }));
    const done = (outcome: Outcome): void => {
      stopWaiting();
      resolve({ outcome, stage: 'write' });
    };
    const threw = (error: unknown): void => {
      log.warn(
        { stage: 'write', eventType: event.type, err: error },
        'handle() threw; abandoning the message',
      );
      done({ kind: 'abandon', error });
    };
    try {
      options.handle(event, { logger: log, signal, message }).then(done, threw);
    } catch (error: unknown) {
      threw(error);
    }
  });
}
