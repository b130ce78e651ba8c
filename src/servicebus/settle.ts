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
export async function settle(
  receiver: SettlingReceiver,
  message: ServiceBusReceivedMessage,
  outcome: Outcome,
  log: Logger,
  timeoutMs: number,
): Promise<SettlementReport> {
  const report: SettlementReport = {
    messageId: String(message.messageId ?? ''),
    sequenceNumber: message.sequenceNumber?.toString(),
    outcome: outcome.kind,
    settled: false,
  };
  let timedOut = false;
  try {
    // The SDK's settle calls take no AbortSignal and retry for minutes on a dead connection; a bound
    // keeps one message from holding a credit slot and shutdown hostage. Its lock expires regardless.
    // One promise settled by whichever comes first, so nothing stays pending per message.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        timedOut = true;
        reject(new Error(`no settlement answer within ${timeoutMs} ms`));
      }, timeoutMs);
      inTurn(receiver, outcome.kind, () => settleCall(receiver, message, outcome))
        .then(resolve, reject)
        .finally(() => clearTimeout(timer));
    });
    report.settled = true;
  } catch (error: unknown) {
    report.errorCode = timedOut ? 'SettleTimeout' : serviceBusCode(error);
    log.warn(
      { stage: 'settle', outcome: outcome.kind, code: report.errorCode, err: error },
      `settling the message (${outcome.kind}) failed; Service Bus redelivers it when its lock expires`,
    );
  }
  return report;
}

type Gate = { queue: { kind: Outcome['kind']; run: () => void }[]; scheduled: boolean };
const gates = new WeakMap<object, Gate>();

/**
 * rhea 3.0.5, under @azure/service-bus 7.9.5, writes the dispositions queued in one tick as ranges
 * of consecutive delivery ids and gives a range of two the first one's outcome, whatever the
 * second's (session.js, write_dispositions): a defer, abandon or dead-letter next to a complete went
 * out as a complete (the message lost), or a complete as another message's dead-letter. So on each
 * receiver a settlement other than complete goes out alone, in a turn of its own; completes, which
 * may share a range, go out together.
 */
function inTurn(receiver: object, kind: Outcome['kind'], call: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let gate = gates.get(receiver);
    if (!gate) {
      gate = { queue: [], scheduled: false };
      gates.set(receiver, gate);
    }
    gate.queue.push({ kind, run: () => void Promise.resolve().then(call).then(resolve, reject) });
    schedule(gate);
  });
}

/** One turn: the next settlement alone, or every complete in a row; rhea writes them before the next. */
function schedule(gate: Gate): void {
  if (gate.scheduled) return;
  gate.scheduled = true;
  setImmediate(() => {
    gate.scheduled = false;
    const first = gate.queue.shift();
    if (!first) return;
    first.run();
    while (first.kind === 'complete' && gate.queue[0]?.kind === 'complete') gate.queue.shift()?.run();
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
