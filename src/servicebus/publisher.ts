import type { ServiceBusMessage, ServiceBusMessageBatch, ServiceBusSender } from '@azure/service-bus';
import type { CloudEvent } from '../cloudevents/cloud-event.ts';
import { type ContentMode, type PublishItem, toServiceBusMessage } from '../cloudevents/envelope.ts';
import { serviceBusCode } from './errors.ts';

/** The sender calls publishing makes; `ServiceBusSender` satisfies it, and so can a fake. */
export type BatchSender = Pick<ServiceBusSender, 'createMessageBatch' | 'sendMessages'>;

export type PublishProgress = { sent: number; failed: number; batches: number };

/** Messages that did not go out, and why. */
export type PublishFailure = { messageIds: string[]; error: unknown };

export type PublishSummary = PublishProgress & { failures: PublishFailure[] };

export type PublishOptions = {
  /** How events are put into messages. @defaultValue 'structured' */
  mode?: ContentMode;
  /** Called after each batch is sent or has failed. @defaultValue none */
  onProgress?: (progress: PublishProgress) => void;
  /** Stops before the next batch; what was sent stays sent. @defaultValue none */
  signal?: AbortSignal;
  /**
   * Each event on its way out: telemetry's `withPublishSpan` starts its trace there and writes its
   * traceparent on it. @defaultValue the event as it is
   */
  beforeSend?: (event: CloudEvent) => CloudEvent;
};

const idOf = (message: ServiceBusMessage): string => String(message.messageId ?? '');

/**
 * Sends events in as few batches as fit the entity's size limit (the limit the broker announced
 * when the link attached, so no size is guessed here). Reads `events` lazily: memory holds one
 * batch, whatever the count. A batch that fails counts as failed and sending goes on.
 */
export async function publishEvents(
  sender: BatchSender,
  events: Iterable<PublishItem> | AsyncIterable<PublishItem>,
  options: PublishOptions = {},
): Promise<PublishSummary> {
  const mode = options.mode ?? 'structured';
  const summary: PublishSummary = { sent: 0, failed: 0, batches: 0, failures: [] };
  const progress = () =>
    options.onProgress?.({ sent: summary.sent, failed: summary.failed, batches: summary.batches });
  let batch: ServiceBusMessageBatch | undefined;
  const newBatch = async (): Promise<ServiceBusMessageBatch> => {
    try {
      return await sender.createMessageBatch();
    } catch (error: unknown) {
      // Nothing more can go out (link refused, role missing, entity gone); what was sent stays sent.
      const why = serviceBusCode(error) ?? (error instanceof Error ? error.message : String(error));
      throw new Error(`cannot send (${why}): sent ${summary.sent} before it stopped`, { cause: error });
    }
  };
  let ids: string[] = [];

  const flush = async (): Promise<void> => {
    if (!batch || batch.count === 0) return;
    const [full, fullIds] = [batch, ids];
    batch = undefined;
    ids = [];
    try {
      await sender.sendMessages(full);
      summary.sent += full.count;
      summary.batches++;
    } catch (error: unknown) {
      summary.failed += fullIds.length;
      summary.failures.push({ messageIds: fullIds, error });
    }
    progress();
  };

  for await (const item of events) {
    options.signal?.throwIfAborted();
    const message =
      'raw' in item
        ? item.raw
        : toServiceBusMessage(options.beforeSend ? options.beforeSend(item) : item, mode);
    batch ??= await newBatch();
    if (batch.tryAddMessage(message)) {
      ids.push(idOf(message));
      continue;
    }
    await flush();
    options.signal?.throwIfAborted();
    batch = await newBatch();
    if (batch.tryAddMessage(message)) {
      ids.push(idOf(message));
      continue;
    }
    // Alone in an empty batch and still too big: no batching can send it.
    summary.failed++;
    summary.failures.push({
      messageIds: [idOf(message)],
      error: new RangeError(
        `message is larger than the entity's maximum size of ${batch.maxSizeInBytes} bytes`,
      ),
    });
    progress();
  }
  await flush();
  return summary;
}
