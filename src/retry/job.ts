/**
 * The retry queue's contract, shared by the retry tier that writes jobs and the operator scripts
 * that list, promote or give up on them. A job is a pointer to a deferred Service Bus message,
 * never the message: Service Bus keeps the message throughout (invariant 1).
 */

/** BullMQ queue name of the delayed retries. */
export const retryQueueName = 'retries';

/**
 * Key prefix in a hash tag: on a clustered Azure Managed Redis every key of the queue then falls in
 * one slot, which BullMQ's multi-key Lua scripts need (else CROSSSLOT).
 */
export const retryQueuePrefix = '{keyless}';

/** What a retry job carries: enough to receive the deferred message by sequence number anywhere. */
export type RetryJobData = {
  /** Entity path the message is deferred in: `queue`, or `topic/Subscriptions/subscription`. */
  entity: string;
  /** Service Bus sequence number as a decimal string (a Long does not survive JSON). */
  sequenceNumber: string;
  /** The message (and CloudEvent) id, for logs and operator filters. */
  messageId: string;
  /** 1 for the first delayed retry, then 2, … */
  attempt: number;
  /** The failure that led to this attempt. */
  lastError: { code: string; message: string };
};

/**
 * entity + sequence number + attempt: a repeat of one attempt (a second replica, a reconciler
 * pass) adds nothing, and the next attempt is a new job. BullMQ refuses ':' in ids, hence '|'.
 */
export const retryJobId = (job: Pick<RetryJobData, 'entity' | 'sequenceNumber' | 'attempt'>): string =>
  `${job.entity}|${job.sequenceNumber}|${job.attempt}`;
