import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import type { Logger } from 'pino';
import type { Outcome } from '../handlers/event.ts';
import { truncate } from './describe-issues.ts';

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
  /** Service Bus error code when settling failed, e.g. `MessageLockLost`. */
  errorCode?: string;
};

const codeOf = (error: unknown): string | undefined => {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
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
): Promise<SettlementReport> {
  const report: SettlementReport = {
    messageId: String(message.messageId ?? ''),
    sequenceNumber: message.sequenceNumber?.toString(),
    outcome: outcome.kind,
    settled: false,
  };
  try {
    switch (outcome.kind) {
      case 'complete':
        await receiver.completeMessage(message);
        break;
      case 'deadLetter':
        await receiver.deadLetterMessage(message, {
          deadLetterReason: outcome.reason,
          deadLetterErrorDescription: truncate(outcome.description),
        });
        break;
      case 'abandon':
        await receiver.abandonMessage(message);
        break;
      case 'defer':
        await receiver.deferMessage(message);
        break;
    }
    report.settled = true;
  } catch (error: unknown) {
    report.errorCode = codeOf(error);
    log.warn(
      { stage: 'settle', outcome: outcome.kind, code: report.errorCode, err: error },
      `settling the message (${outcome.kind}) failed; Service Bus redelivers it when its lock expires`,
    );
  }
  return report;
}
