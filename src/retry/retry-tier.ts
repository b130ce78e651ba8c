import type { ServiceBusClient, ServiceBusReceiverOptions } from '@azure/service-bus';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { EventSchemas } from '../handlers/registry.ts';
import { createCloser } from '../lifecycle.ts';
import type { CloudEvent } from '../pipeline/cloud-event.ts';
import type { Outcome } from '../pipeline/outcome.ts';
import { createEntityReceiver, entityPath, type ServiceBusEntity } from '../servicebus/entity.ts';
import { cloudEventReceiverOptions } from '../servicebus/envelope.ts';
import type { MessageTracing } from '../telemetry/message-spans.ts';
import { createReconciler, type Reconciler } from './reconciler.ts';
import { checkEvictionPolicy, createRedisConnections, type RedisAuth } from './redis.ts';
import { createRetryPolicy, type RetryPolicy } from './retry-policy.ts';
import { createRetryQueue, type RetryQueue } from './retry-queue.ts';
import { createRetryWorker, type RetryWorker, type RetryWorkerObserver } from './retry-worker.ts';

export type RetryTierOptions = {
  redis: { url: string; auth: RedisAuth };
  retry: Config['retry'];
  entity: ServiceBusEntity;
  client: Pick<ServiceBusClient, 'createReceiver'>;
  schemas: EventSchemas;
  write: (event: CloudEvent) => Promise<Outcome>;
  logger: Logger;
  drainGraceMs: number;
  /** @defaultValue none */
  observer?: RetryWorkerObserver;
  /** @defaultValue none */
  tracing?: Pick<MessageTracing, 'inMessageSpan'>;
};

export type RetryTier = {
  policy: RetryPolicy;
  queue: RetryQueue;
  worker: RetryWorker;
  reconciler: Reconciler;
  /** Answers when Redis does (readiness): without it transient failures are abandoned, not retried. */
  ping(): Promise<void>;
  /** Retry worker first (drains its jobs), then the reconciler, the queue, every Redis connection. */
  close(): Promise<{ name: string; error: unknown }[]>;
};

/**
 * The retry tier: Redis connections, the queue the policy adds jobs to, the retry worker and the
 * reconciler. Start refuses a Redis that evicts keys; a Redis that is down at start is only
 * warned about, because the tier heals once it is back (messages are abandoned meanwhile).
 */
export async function startRetryTier(options: RetryTierOptions): Promise<RetryTier> {
  const logger = options.logger.child({ component: 'retry' });
  const closer = createCloser();
  const entity = entityPath(options.entity);
  try {
    const connections = createRedisConnections({ url: options.redis.url, auth: options.redis.auth, logger });
    closer.add('redis connections', () => connections.close());
    await connections.start();
    const commands = connections.commands();
    if (await readyWithin(commands, 3_000)) {
      await checkEvictionPolicy(commands);
    } else {
      logger.warn(
        { stage: 'retry', url: redactUrl(options.redis.url) },
        'Redis unreachable at start; transient failures are abandoned until it answers',
      );
      commands.once('ready', () => {
        checkEvictionPolicy(commands).catch((e: unknown) =>
          logger.error({ stage: 'retry', err: e }, 'Redis evicts keys; retry jobs can be lost'),
        );
      });
    }
    const queue = createRetryQueue({ connection: commands, logger });
    closer.add('retry queue', () => queue.close());

    // As the consumer receives: a binary event's AMQP timestamp stays a Date, its body raw bytes.
    const receiverOptions: ServiceBusReceiverOptions = {
      receiveMode: 'peekLock',
      ...cloudEventReceiverOptions,
    };
    const createReceiver = () => createEntityReceiver(options.client, options.entity, receiverOptions);

    const backoff = {
      baseDelayMs: options.retry.baseDelayMs,
      factor: options.retry.factor,
      maxDelayMs: options.retry.maxDelayMs,
    };
    const policy = createRetryPolicy({
      ...backoff,
      entity,
      queue,
      immediateAttempts: options.retry.immediateAttempts,
      immediateDelayMs: options.retry.immediateDelayMs,
      maxAttempts: options.retry.maxAttempts,
    });
    const reconciler = createReconciler({
      ...backoff,
      entity,
      createPeeker: createReceiver,
      queue,
      logger: options.logger.child({ component: 'reconciler' }),
      intervalMs: options.retry.reconcileMs,
    });
    closer.add('reconciler', () => reconciler.close());
    await reconciler.start();

    const worker = createRetryWorker({
      connection: connections.worker(),
      entity,
      receiver: createReceiver(),
      schemas: options.schemas,
      write: options.write,
      policy,
      logger: options.logger.child({ component: 'retry-worker' }),
      concurrency: options.retry.concurrency,
      drainGraceMs: options.drainGraceMs,
      ...(options.observer ? { observer: options.observer } : {}),
      ...(options.tracing ? { tracing: options.tracing } : {}),
    });
    closer.add('retry worker', () => worker.close());
    await worker.start();
    return {
      policy,
      queue,
      worker,
      reconciler,
      ping: async () => {
        await commands.ping();
      },
      close: () => closer.closeAll(),
    };
  } catch (error: unknown) {
    await closer.closeAll();
    throw error;
  }
}

const readyWithin = (client: Redis, timeoutMs: number): Promise<boolean> =>
  client.status === 'ready'
    ? Promise.resolve(true)
    : new Promise((resolve) => {
        const timer = setTimeout(() => {
          client.off('ready', onReady);
          resolve(false);
        }, timeoutMs);
        const onReady = () => {
          clearTimeout(timer);
          resolve(true);
        };
        client.once('ready', onReady);
      });

/** The URL without credentials, for logs. */
const redactUrl = (url: string): string => url.replace(/\/\/[^@/]*@/, '//');
