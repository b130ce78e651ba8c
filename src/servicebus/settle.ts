import type { ServiceBusErrorCode, ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import type { Logger } from 'pino';
import { truncate } from '../cloudevents/describe-issues.ts';
import type { Outcome } from '../pipeline/outcome.ts';
import { serviceBusCode } from './errors.ts';

/** The settlement calls of a peek-lock receiver; a narrow type so tests can pass a fake. */
export type SettlingReceiver = Pick<
  ServiceBusReceiver,
  'completeMessage' | 'abandonMessage' | 'deferMessage' | 'deadLetterMessage'
>;

/** What happened to one settlement; `settled: false` means the message is still locked or will be redelivered. */
export type SettlementReport = {
  messageId: string;
  sequenceNumber: string | undefined;
  outcome: Outcome['kind'];
  settled: boolean;
  /** Why settling failed: the Service Bus error code (e.g. `MessageLockLost`), or `SettleTimeout`. */
  errorCode?: ServiceBusErrorCode | 'SettleTimeout';
};

/** Human-readable text of an abandon/defer cause, for logs only. */
export const describeError = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

/**
 * Settles one message as its outcome says, once. A failure is reported, never retried here: after
 * a lost lock Service Bus redelivers the message, and the SQL inbox makes the redelivery harmless,
 * whereas retrying a settlement on a lock we no longer hold can only fail again or act twice.
 */
export function settle(
  receiver: SettlingReceiver,
  message: ServiceBusReceivedMessage,
  outcome: Outcome,
  log: Logger,
  timeoutMs: number,
): Promise<SettlementReport> {
  return new Promise<SettlementReport>((resolve) => {
    const pending: Pending = {
      receiver,
      message,
      outcome,
      deadline: Date.now() + timeoutMs,
      done(error, timedOut) {
        if (pending.finished) return;
        pending.finished = true;
        const report: SettlementReport = {
          messageId: String(message.messageId ?? ''),
          sequenceNumber: message.sequenceNumber?.toString(),
          outcome: outcome.kind,
          settled: error === undefined,
        };
        if (error !== undefined) {
          report.errorCode = timedOut ? 'SettleTimeout' : serviceBusCode(error);
          log.warn(
            { stage: 'settle', outcome: outcome.kind, code: report.errorCode, err: error },
            `settling the message (${outcome.kind}) failed; Service Bus redelivers it when its lock expires`,
          );
        }
        resolve(report);
      },
      finished: false,
    };
    enqueue(gateOf(receiver), pending, timeoutMs);
  });
}

type Pending = {
  receiver: SettlingReceiver;
  message: ServiceBusReceivedMessage;
  outcome: Outcome;
  deadline: number;
  done(error: unknown, timedOut?: boolean): void;
  finished: boolean;
};

/** Each receiver's settlements: the ones waiting for their turn, and the ones waiting for an answer. */
type Gate = {
  queue: Pending[];
  scheduled: boolean;
  /** Sent and not answered yet, oldest first: their deadlines are checked by one timer. */
  unanswered: Set<Pending>;
  timer: NodeJS.Timeout | undefined;
};
const gates = new WeakMap<object, Gate>();

const gateOf = (receiver: object): Gate => {
  let gate = gates.get(receiver);
  if (!gate) {
    gate = { queue: [], scheduled: false, unanswered: new Set(), timer: undefined };
    gates.set(receiver, gate);
  }
  return gate;
};

/**
 * The SDK's settle calls take no AbortSignal and retry for minutes on a dead connection; a bound
 * keeps one message from holding a credit slot and shutdown hostage (its lock expires regardless).
 * One timer per receiver, at the oldest deadline, instead of one per message.
 */
function watchDeadlines(gate: Gate, timeoutMs: number): void {
  if (gate.timer) return;
  gate.timer = setTimeout(
    () => {
      gate.timer = undefined;
      const now = Date.now();
      for (const p of gate.unanswered) {
        if (p.deadline > now) break;
        gate.unanswered.delete(p);
        p.done(new Error(`no settlement answer within ${timeoutMs} ms`), true);
      }
      if (gate.unanswered.size > 0) watchDeadlines(gate, timeoutMs);
    },
    Math.max(0, (gate.unanswered.values().next().value?.deadline ?? Date.now() + timeoutMs) - Date.now()),
  );
  gate.timer.unref();
}

function send(gate: Gate, p: Pending): void {
  const answered = (error?: unknown) => {
    gate.unanswered.delete(p);
    if (gate.unanswered.size === 0 && gate.timer) {
      clearTimeout(gate.timer);
      gate.timer = undefined;
    }
    p.done(error);
  };
  let call: Promise<void>;
  try {
    call = settleCall(p.receiver, p.message, p.outcome);
  } catch (error: unknown) {
    answered(error ?? new Error('settlement failed'));
    return;
  }
  call.then(
    () => answered(),
    (error: unknown) => answered(error ?? new Error('settlement failed')),
  );
}

/**
 * rhea 3.0.5, under @azure/service-bus 7.9.5, writes the dispositions queued in one tick as ranges
 * of consecutive delivery ids and gives a range of two the first one's outcome, whatever the
 * second's (session.js, write_dispositions): a defer, abandon or dead-letter next to a complete went
 * out as a complete (the message lost), or a complete as another message's dead-letter. So on each
 * receiver a settlement other than complete goes out alone, in a turn of its own; completes, which
 * may share a range, go out together.
 */
function enqueue(gate: Gate, p: Pending, timeoutMs: number): void {
  gate.queue.push(p);
  gate.unanswered.add(p);
  watchDeadlines(gate, timeoutMs);
  schedule(gate);
}

/** One turn: the next settlement alone, or every complete in a row; rhea writes them before the next. */
function schedule(gate: Gate): void {
  if (gate.scheduled) return;
  gate.scheduled = true;
  setImmediate(() => {
    gate.scheduled = false;
    const first = gate.queue.shift();
    if (!first) return;
    send(gate, first);
    while (first.outcome.kind === 'complete' && gate.queue[0]?.outcome.kind === 'complete')
      send(gate, gate.queue.shift() as Pending);
    if (gate.queue.length > 0) schedule(gate);
  });
}

function settleCall(
  receiver: SettlingReceiver,
  message: ServiceBusReceivedMessage,
  outcome: Outcome,
): Promise<void> {
  switch (outcome.kind) {
    case 'complete':
      return receiver.completeMessage(message);
    case 'deadLetter':
      return receiver.deadLetterMessage(message, {
        deadLetterReason: outcome.reason,
        deadLetterErrorDescription: truncate(outcome.description),
      });
    case 'abandon':
      return receiver.abandonMessage(message);
    case 'defer':
      return receiver.deferMessage(message, outcome.properties);
  }
}
