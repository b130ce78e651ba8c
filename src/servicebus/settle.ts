import type { ServiceBusErrorCode, ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import type { Logger } from 'pino';
import type { Outcome } from '../pipeline/outcome.ts';
import { truncate } from './describe-issues.ts';
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
      Promise.resolve()
        .then(() => settleCall(receiver, message, outcome))
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
