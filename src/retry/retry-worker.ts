import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import { SpanStatusCode } from '@opentelemetry/api';
import { type Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import Long from 'long';
import type { Logger } from 'pino';
import { defaults } from '../defaults.ts';
import type { EventSchemas } from '../handlers/registry.ts';
import type { CloudEvent } from '../pipeline/cloud-event.ts';
import type { Outcome } from '../pipeline/outcome.ts';
import { parseCloudEvent } from '../servicebus/envelope.ts';
import { serviceBusCode } from '../servicebus/errors.ts';
import { keepLocked } from '../servicebus/lock-renewal.ts';
import { settle } from '../servicebus/settle.ts';
import type { MessageTracing } from '../telemetry/message-spans.ts';
import { RetryError } from './errors.ts';
import { type RetryJobData, retryQueueName, retryQueuePrefix } from './job.ts';
import { deferredAttempt, type RetryPolicy } from './retry-policy.ts';

/** The receiver calls the retry worker makes. */
export type DeferredReceiver = Pick<
  ServiceBusReceiver,
  | 'receiveDeferredMessages'
  | 'peekMessages'
  | 'completeMessage'
  | 'abandonMessage'
  | 'deferMessage'
  | 'deadLetterMessage'
  | 'renewMessageLock'
  | 'close'
>;

export type RetryWorkerOptions = {
  /** BullMQ's connection (RedisConnections.worker()). */
  connection: Redis;
  /** Entity path of `receiver`. */
  entity: string;
  /** A peek-lock receiver of the entity the jobs point into. */
  receiver: DeferredReceiver;
  schemas: EventSchemas;
  /** The same write path as the consumer's (the batcher). */
  write: (event: CloudEvent) => Promise<Outcome>;
  policy: RetryPolicy;
  logger: Logger;
  /** Jobs at once. */
  concurrency: number;
  /** How long close() lets running jobs finish. */
  drainGraceMs: number;
  /** @defaultValue 10000 */
  settleTimeoutMs?: number;
  /** How long one attempt's lock is renewed at most. @defaultValue defaults.lockRenewalMaxMs */
  lockRenewalMaxMs?: number;
  /** Told each attempt's settled outcome (`gone`: the message was already settled), for metrics. @defaultValue none */
  observer?: RetryWorkerObserver;
  /** Spans of each attempt in the message's trace (the write and the settle under it). @defaultValue none */
  tracing?: Pick<MessageTracing, 'inMessageSpan'>;
};

export type RetryWorkerObserver = { settled(outcome: Outcome | 'gone'): void };

export type RetryWorker = {
  start(): Promise<void>;
  /** Stops taking jobs and lets running ones finish within the grace period. Idempotent. */
  close(): Promise<void>;
  stats(): { completed: number; deadLettered: number; deferred: number; abandoned: number; gone: number };
};

/**
 * The BullMQ worker of delayed retries: each job names a deferred message, which is received by
 * its sequence number (any replica can, the message never left Service Bus), written through the
 * same path as a fresh one and settled by the retry policy's outcome. A job that runs twice
 * finds the message settled the second time, and the inbox keeps the effect single regardless.
 */
export function createRetryWorker(options: RetryWorkerOptions): RetryWorker {
  const { receiver, logger } = options;
  const counts = { completed: 0, deadLettered: 0, deferred: 0, abandoned: 0, gone: 0 };
  let worker: Worker<RetryJobData> | undefined;
  let closing: Promise<void> | undefined;

  /**
   * The deferred message this job's attempt is for, locked; undefined when the job has nothing to
   * do: the message was settled, another replica holds this attempt, or a later attempt's job
   * looks after it (a stale job received it, it would spend a delivery of the message's budget).
   * The peek first is free: it counts no delivery, a receive does.
   */
  const receive = async (data: RetryJobData, log: Logger): Promise<ServiceBusReceivedMessage | undefined> => {
    const sequenceNumber = Long.fromString(data.sequenceNumber);
    const [peeked] = await receiver.peekMessages(1, { fromSequenceNumber: sequenceNumber });
    if (!peeked || String(peeked.sequenceNumber) !== data.sequenceNumber) {
      log.debug({ stage: 'retry' }, 'the deferred message is gone (settled elsewhere); job done');
      return undefined;
    }
    if (peeked.state !== 'deferred') {
      throw new RetryError('NotDeferredYet', `message ${data.messageId} is not deferred yet`);
    }
    const waitsFor = deferredAttempt(peeked);
    if (waitsFor > data.attempt) {
      log.debug({ stage: 'retry', waitsFor }, 'a later attempt looks after the message; stale job done');
      return undefined;
    }
    try {
      const [message] = await receiver.receiveDeferredMessages(sequenceNumber);
      if (message) return message;
    } catch (error: unknown) {
      const code = serviceBusCode(error);
      if (code === 'MessageLockLost') {
        // Still locked by the attempt before, whose defer (it added this job first) is on its way:
        // BullMQ runs this job again in a second. Otherwise another replica runs this very attempt.
        if (waitsFor < data.attempt) {
          throw new RetryError(
            'NotDeferredYet',
            `message ${data.messageId} is not deferred for attempt ${data.attempt} yet`,
          );
        }
        return undefined;
      }
      // Anything else but not-found is a fault.
      if (code !== 'MessageNotFound') throw error;
    }
    log.debug({ stage: 'retry' }, 'the deferred message is gone (settled elsewhere); job done');
    return undefined;
  };

  /** Writes one received deferred message through the policy and settles it as its outcome says. */
  const run = async (message: ServiceBusReceivedMessage, log: Logger) => {
    // The SDK renews only the locks of messages it delivered itself, not of one received by
    // sequence number: an attempt slower than the entity's lock duration would lose its lock.
    const release = keepLocked(receiver, message, {
      maxMs: options.lockRenewalMaxMs ?? defaults.lockRenewalMaxMs,
      onError: (error) =>
        log.warn({ stage: 'retry', code: serviceBusCode(error), err: error }, 'renewing the lock failed'),
    });
    try {
      return await writeAndSettle(message, log, release);
    } finally {
      release();
    }
  };

  const writeAndSettle = async (message: ServiceBusReceivedMessage, log: Logger, stopRenewal: () => void) => {
    // A deferred message was parsed once before it was deferred; its timestamps now come as numbers.
    const parsed = parseCloudEvent(message, options.schemas, { timestampsAsEpochMs: true });
    const outcome: Outcome = parsed.ok
      ? await options.policy.run(() => options.write(parsed.event), message, log)
      : { kind: 'deadLetter', reason: parsed.reason, description: parsed.description };
    const settleIt = () => {
      stopRenewal(); // no renewal races the settlement
      return settle(receiver, message, outcome, log, options.settleTimeoutMs ?? defaults.settleTimeoutMs);
    };
    const report = options.tracing
      ? await options.tracing.inMessageSpan(message, `${outcome.kind} ${options.entity}`, async (span) => {
          const r = await settleIt();
          if (!r.settled)
            span.setStatus({ code: SpanStatusCode.ERROR, message: r.errorCode ?? 'settle failed' });
          return r;
        })
      : await settleIt();
    return { outcome, report };
  };

  const process = async (job: Job<RetryJobData>): Promise<void> => {
    const data = job.data;
    const log = logger.child({
      messageId: data.messageId,
      sequenceNumber: data.sequenceNumber,
      attempt: data.attempt,
    });
    if (data.entity !== options.entity) {
      // Thrown, not dropped: BullMQ tries it again, maybe on a worker of that entity.
      log.error(
        { stage: 'retry', jobEntity: data.entity },
        'retry job of another entity: give each deployment its own Redis',
      );
      throw new RetryError('ForeignEntity', `job for ${data.entity}, this worker serves ${options.entity}`);
    }
    const message = await receive(data, log);
    if (!message) {
      counts.gone++;
      options.observer?.settled('gone');
      return;
    }
    const { tracing } = options;
    const attempt = tracing
      ? tracing.inMessageSpan(message, `retry ${options.entity}`, async (span) => {
          span.setAttributes({
            'messaging.system': 'servicebus',
            'messaging.destination.name': options.entity,
            'messaging.message.id': data.messageId,
            'messaging.servicebus.message.delivery_count': message.deliveryCount ?? 0,
            'keyless.retry.attempt': data.attempt,
          });
          const result = await run(message, log);
          span.setAttribute('keyless.outcome', result.outcome.kind);
          if (result.outcome.kind === 'deadLetter') {
            span.setAttribute('keyless.dead_letter_reason', result.outcome.reason);
            span.setStatus({ code: SpanStatusCode.ERROR, message: result.outcome.reason });
          }
          return result;
        })
      : run(message, log);
    const { outcome, report } = await attempt;
    if (!report.settled) return;
    options.observer?.settled(outcome);
    if (outcome.kind === 'complete') counts.completed++;
    else if (outcome.kind === 'deadLetter') {
      counts.deadLettered++;
      log.error(
        { stage: 'retry', reason: outcome.reason, description: outcome.description },
        'dead-lettered',
      );
    } else if (outcome.kind === 'defer') counts.deferred++;
    else counts.abandoned++;
  };

  return {
    async start() {
      worker = new Worker<RetryJobData>(retryQueueName, process, {
        connection: options.connection,
        prefix: retryQueuePrefix,
        concurrency: options.concurrency,
        autorun: false,
        // A crashed replica's job comes back quickly; the message itself never left Service Bus.
        stalledInterval: 15_000,
      });
      worker.on('error', (error: Error) =>
        logger.warn({ stage: 'retry', err: error.message }, 'retry worker error; BullMQ reconnects'),
      );
      worker.on('failed', (job, error) => {
        const code = error.name === 'RetryError' ? (error as RetryError).code : serviceBusCode(error);
        // A defer still on its way heals by itself in a second; anything else is worth a warning.
        logger[code === 'NotDeferredYet' ? 'info' : 'warn'](
          { stage: 'retry', jobId: job?.id, code, err: error.message },
          'retry job failed; BullMQ tries it again',
        );
      });
      void worker.run().catch((error: unknown) => {
        if (!closing) logger.error({ stage: 'retry', err: error }, 'retry worker stopped');
      });
      // Not awaited: with Redis down at start the worker connects later by itself, and start goes on.
      worker.waitUntilReady().then(
        () => logger.info({ concurrency: options.concurrency }, 'retry worker started'),
        () => undefined,
      );
    },
    close() {
      closing ??= (async () => {
        if (!worker) return;
        let timer: NodeJS.Timeout | undefined;
        const graceOver = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), options.drainGraceMs);
        });
        const drained = worker.close();
        const result = await Promise.race([drained.then(() => 'drained' as const), graceOver]);
        clearTimeout(timer);
        if (result === 'timeout') {
          // Their messages stay deferred; their locks lapse and the jobs come back as stalled.
          logger.warn('retry worker grace period over; stopping running jobs');
          await worker.close(true);
        }
        await receiver.close().catch(() => undefined);
        logger.info(counts, 'retry worker closed');
      })();
      return closing;
    },
    stats: () => ({ ...counts }),
  };
}
