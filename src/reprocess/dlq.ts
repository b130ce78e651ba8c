import type { ServiceBusClient, ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import Long from 'long';
import type { IdentityDescription } from '../identity/describe.ts';
import { needServiceBusRole } from './access.ts';
import { createTally, type ReprocessOptions, type ReprocessSummary } from './run.ts';

/** Which dead letters a run selects; every given filter must match. */
export type DeadLetterFilter = {
  reason?: string;
  /** CloudEvent type: the message's Subject, else its `cloudEvents:type` property. */
  type?: string;
  /** Enqueued time (as the dead-letter queue reports it) at or after. */
  since?: Date;
  /** Enqueued time before. */
  until?: Date;
  messageId?: string;
};

export type DeadLetterOptions = ReprocessOptions & {
  client: ServiceBusClient;
  /** The queue whose dead-letter queue is reprocessed. */
  queue: string;
  /** For actionable errors. */
  namespace: string;
  identity: IdentityDescription;
  filter: DeadLetterFilter;
  /** `replay` sends each back to the queue; `purge` deletes it. @defaultValue 'replay' */
  action?: 'replay' | 'purge';
  /**
   * The queue's duplicate detection window: a replay of a message enqueued less than this ago keeps
   * its MessageId, so the broker would drop it as a duplicate and the dead letter would be lost.
   * Those stay in the dead-letter queue. 0 when the queue has no duplicate detection. @defaultValue 600000
   */
  duplicateWindowMs?: number;
};

/** The SDK's raw AMQP message type (it does not export the name). */
type AmqpAnnotatedMessage = ServiceBusReceivedMessage['_rawAmqpMessage'];

/** Application properties a replay adds, so a replayed message says so wherever it ends up. */
export const replayProperties = { count: 'ReplayCount', originalReason: 'ReplayOriginalReason' } as const;

const typeOf = (m: ServiceBusReceivedMessage): string | undefined =>
  m.subject ??
  (m.applicationProperties?.['cloudEvents:type'] as string | undefined) ??
  (m.applicationProperties?.cloudEvents_type as string | undefined);

export const matchesDeadLetter = (m: ServiceBusReceivedMessage, f: DeadLetterFilter): boolean => {
  const at = m.enqueuedTimeUtc?.getTime() ?? 0;
  return (
    (f.reason === undefined || m.deadLetterReason === f.reason) &&
    (f.type === undefined || typeOf(m) === f.type) &&
    (f.messageId === undefined || String(m.messageId) === f.messageId) &&
    (f.since === undefined || at >= f.since.getTime()) &&
    (f.until === undefined || at < f.until.getTime())
  );
};

/** The message as it was sent, without the broker's annotations and the dead-letter properties. */
const toReplay = (m: ServiceBusReceivedMessage): AmqpAnnotatedMessage => {
  const raw = m._rawAmqpMessage;
  const {
    DeadLetterReason: _reason,
    DeadLetterErrorDescription: _description,
    ...kept
  } = raw.applicationProperties ?? {};
  const previous = Number(kept[replayProperties.count] ?? 0);
  return {
    // The decoded body with its section type: raw.body still wraps it in the AMQP section, and the
    // receiver skips JSON parsing, so data sections come back as the bytes that were sent.
    body: m.body,
    bodyType: raw.bodyType,
    ...(raw.header?.timeToLive !== undefined ? { header: { timeToLive: raw.header.timeToLive } } : {}),
    properties: raw.properties,
    applicationProperties: {
      ...kept,
      [replayProperties.count]: previous + 1,
      [replayProperties.originalReason]: m.deadLetterReason ?? 'unknown',
    },
  };
};

const peekAll = async (receiver: ServiceBusReceiver): Promise<ServiceBusReceivedMessage[]> => {
  const all: ServiceBusReceivedMessage[] = [];
  // Explicit sequence numbers: without them the client goes on after the last message any earlier
  // receiver of the same entity peeked (the SDK keeps that cursor per entity and client).
  let from = Long.ONE;
  for (;;) {
    const page = await receiver.peekMessages(250, { fromSequenceNumber: from });
    if (page.length === 0) return all;
    all.push(...page);
    from = Long.fromValue((page.at(-1) as ServiceBusReceivedMessage).sequenceNumber as Long).add(1);
  }
};

/**
 * Dead letters back to the queue (or deleted, with `purge`). A replay keeps the MessageId, so the
 * inbox keeps the effect single, and the dead letter is completed only after the broker acknowledged
 * the resubmission: an interrupted run leaves it dead-lettered (or, between the two steps, both
 * queued and dead-lettered, which a re-run and the inbox make harmless). Nothing is lost.
 */
export async function reprocessDeadLetters(options: DeadLetterOptions): Promise<ReprocessSummary> {
  const { client, queue, namespace, identity, filter } = options;
  const action = options.action ?? 'replay';
  const windowMs = options.duplicateWindowMs ?? 600_000;
  const access = { identity, namespace, queue };
  const receiver = client.createReceiver(queue, {
    subQueueType: 'deadLetter',
    receiveMode: 'peekLock',
    skipParsingBodyAsJson: true,
    skipConvertingDate: true,
  });
  const sender = action === 'replay' ? client.createSender(queue) : undefined;
  try {
    const peeked = await needServiceBusRole(() => peekAll(receiver), {
      ...access,
      role: 'Azure Service Bus Data Receiver',
      action: 'read its dead-letter queue',
    });
    // The send link is opened now, so a missing Data Sender shows before anything is touched.
    if (sender)
      await needServiceBusRole(() => sender.createMessageBatch(), {
        ...access,
        role: 'Azure Service Bus Data Sender',
        action: 'send dead letters back',
      });
    const cutoff = Date.now() - windowMs;
    const selected = peeked.filter((m) => matchesDeadLetter(m, filter)).slice(0, options.max ?? Infinity);
    const tooRecent = (m: ServiceBusReceivedMessage) =>
      action === 'replay' && (m.enqueuedTimeUtc?.getTime() ?? 0) > cutoff;
    const tally = createTally(options, selected.length);
    const line = (m: ServiceBusReceivedMessage, what: string) =>
      `${what}: ${m.messageId} #${m.sequenceNumber} ${m.deadLetterReason ?? ''} ${typeOf(m) ?? ''}`;
    const skipLine = (m: ServiceBusReceivedMessage) =>
      line(
        m,
        `inside the duplicate detection window until ${new Date((m.enqueuedTimeUtc?.getTime() ?? 0) + windowMs).toISOString()}, stays`,
      );
    if (options.dryRun) {
      for (const m of selected) {
        options.onPlan?.(tooRecent(m) ? skipLine(m) : line(m, `would ${action}`));
        tally.count(tooRecent(m) ? 'would-skip-duplicate-window' : `would-${action}`);
      }
      return tally.summary;
    }
    const targets = new Set<string>();
    for (const m of selected) {
      if (!tooRecent(m)) targets.add(String(m.sequenceNumber));
      else {
        options.onPlan?.(skipLine(m));
        tally.count('skipped-duplicate-window');
      }
    }
    // Dead letters that are not selected stay locked until the end of the run, so the receive
    // moves past them; each is abandoned once at the end, never dead-lettered or completed.
    const held: ServiceBusReceivedMessage[] = [];
    try {
      while (targets.size > 0 && tally.go) {
        const batch = await receiver.receiveMessages(Math.min(50, targets.size + 10), {
          maxWaitTimeInMs: 2_000,
        });
        if (batch.length === 0) break;
        for (const m of batch) {
          if (!targets.has(String(m.sequenceNumber)) || !tally.go) {
            held.push(m);
            continue;
          }
          targets.delete(String(m.sequenceNumber));
          await tally.pace();
          try {
            if (sender) await sender.sendMessages(toReplay(m));
            await receiver.completeMessage(m);
            tally.count(action === 'replay' ? 'replayed' : 'purged');
          } catch (error: unknown) {
            held.push(m);
            tally.count('failed', { id: String(m.messageId), error });
          }
        }
      }
    } finally {
      for (const m of held) await receiver.abandonMessage(m).catch(() => undefined);
    }
    // A selected dead letter the receive did not reach (another receiver held it) is a failure to report.
    if (!tally.summary.interrupted)
      for (const sequence of targets)
        tally.count('not-reached', { id: `#${sequence}`, error: 'not received in this run' });
    return tally.summary;
  } finally {
    await sender?.close().catch(() => undefined);
    await receiver.close().catch(() => undefined);
  }
}
