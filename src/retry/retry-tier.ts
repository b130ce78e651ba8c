import type { TokenCredential } from '@azure/identity';
import type { ServiceBusClient, ServiceBusReceiverOptions } from '@azure/service-bus';
import type { Redis } from 'ioredis';
import { cloudEventReceiverOptions } from '../cloudevents/envelope.ts';
import type { Config } from '../config.ts';
import type { IdentityDescription } from '../identity/describe.ts';
import type { StartContext } from '../lifecycle.ts';
import { metricNames } from '../metrics-registry.ts';
import type { Breaker } from '../pipeline/breaker.ts';
import { createEntityReceiver, entityPath, type ServiceBusEntity } from '../servicebus/entity.ts';
import type { MessagePath } from '../servicebus/message-path.ts';
import { RetryError } from './errors.ts';
import { createReconciler, type Reconciler } from './reconciler.ts';
import { checkEvictionPolicy, createRedisConnections, type RedisAuth } from './redis.ts';
import { createRetryPolicy, type RetryPolicy } from './retry-policy.ts';
import { createRetryQueue, type RetryQueue } from './retry-queue.ts';
import { createRetryWorker, type RetryWorker, type RetryWorkerObserver } from './retry-worker.ts';

export type RetryTierConfig = {
  retry: Config['retry'];
  redis: Config['redis'];
  entity: ServiceBusEntity;
  /** How long a message waits for a database known to be down. @defaultValue 120000 */
  holdMaxMs?: number;
};

export type RetryTierDeps = {
  client: Pick<ServiceBusClient, 'createReceiver'>;
  credential: TokenCredential;
  /** Who the process is: Entra AUTH to Redis names it by its object id. */
  identity: IdentityDescription;
  /** How long close() lets running retry jobs finish. */
  drainGraceMs: number;
  /** The write path's breaker: the policy holds messages while it is open. @defaultValue none */
  gate?: Pick<Breaker, 'state' | 'suspect' | 'verdict' | 'whenClosed' | 'noteDeferred'> | undefined;
};

export type RetryTier = {
  policy: RetryPolicy;
  queue: RetryQueue;
  reconciler: Reconciler;
  /**
   * Starts the BullMQ worker of delayed retries; each job's message goes through `path`. It takes
   * no job while `breaker` is not closed, and makes every delayed job due when it closes.
   */
  startWorker(
    path: MessagePath,
    deps?: { observer?: RetryWorkerObserver | undefined; breaker?: Pick<Breaker, 'state' | 'onChange'> },
  ): Promise<RetryWorker>;
  /** Answers when Redis does (readiness): without it transient failures are abandoned, not retried. */
  ping(): Promise<void>;
};

/** Entra AUTH to Redis names the identity by its object id, which only its token tells. */
function redisAuth(config: Config['redis'], deps: RetryTierDeps): RedisAuth {
  if (config.auth !== 'entra') return { kind: 'none' };
  if (!deps.identity.objectId) {
    throw new RetryError(
      'RedisAuth',
      'REDIS_AUTH=entra needs the identity object id (oid claim), and the token has none',
    );
  }
  return { kind: 'entra', credential: deps.credential, objectId: deps.identity.objectId };
}

/**
 * The retry tier: Redis connections, the queue the policy adds jobs to, the reconciler, and the
 * retry worker once the message path exists. Start refuses a Redis that evicts keys; a Redis that
 * is down at start is only warned about, because the tier heals once it is back (messages are
 * abandoned meanwhile). Everything it opens closes in reverse order through the context.
 */
export async function startRetryTier(
  config: RetryTierConfig,
  deps: RetryTierDeps,
  ctx: StartContext,
): Promise<RetryTier> {
  const logger = ctx.logger.child({ component: 'retry' });
  const entity = entityPath(config.entity);
  const connections = createRedisConnections({
    url: config.redis.url,
    auth: redisAuth(config.redis, deps),
    logger,
  });
  ctx.closer.add('redis connections', () => connections.close());
  await connections.start();
  const commands = connections.commands();
  if (await readyWithin(commands, 3_000)) {
    await checkEvictionPolicy(commands);
  } else {
    logger.warn(
      { stage: 'retry', url: redactUrl(config.redis.url) },
      'Redis unreachable at start; transient failures are abandoned until it answers',
    );
    commands.once('ready', () => {
      checkEvictionPolicy(commands).catch((e: unknown) =>
        logger.error({ stage: 'retry', err: e }, 'Redis evicts keys; retry jobs can be lost'),
      );
    });
  }
  const queue = createRetryQueue({ connection: commands, logger });
  ctx.closer.add('retry queue', () => queue.close());
  ctx.metrics?.gauge(metricNames.retryQueueDepth, 'Retry jobs waiting or delayed in the BullMQ queue.', {
    collect: async (g) => g.set(await queue.queue.getJobCountByTypes('waiting', 'delayed', 'prioritized')),
  });
  const ping = async () => {
    await commands.ping();
  };
  // Transient failures need Redis to become retries: without it they are abandoned and spend budget.
  ctx.readiness?.add('redis', ping);

  // As the consumer receives: a binary event's AMQP timestamp stays a Date, its body raw bytes.
  const receiverOptions: ServiceBusReceiverOptions = {
    receiveMode: 'peekLock',
    ...cloudEventReceiverOptions,
  };
  const createReceiver = () => createEntityReceiver(deps.client, config.entity, receiverOptions);
  const { retry } = config;
  const backoff = { baseDelayMs: retry.baseDelayMs, factor: retry.factor, maxDelayMs: retry.maxDelayMs };
  const policy = createRetryPolicy({
    ...backoff,
    entity,
    queue,
    immediateAttempts: retry.immediateAttempts,
    immediateDelayMs: retry.immediateDelayMs,
    maxAttempts: retry.maxAttempts,
    gate: deps.gate,
    ...(config.holdMaxMs !== undefined ? { holdMaxMs: config.holdMaxMs } : {}),
    logger: ctx.logger.child({ component: 'retry' }),
  });
  const reconciler = createReconciler({
    ...backoff,
    entity,
    createPeeker: createReceiver,
    queue,
    logger: ctx.logger.child({ component: 'reconciler' }),
    intervalMs: retry.reconcileMs,
  });
  ctx.closer.add('reconciler', () => reconciler.close());
  await reconciler.start();

  return {
    policy,
    queue,
    reconciler,
    ping,
    async startWorker(path, { observer, breaker } = {}) {
      const worker = createRetryWorker({
        connection: connections.worker(),
        entity,
        receiver: createReceiver(),
        path,
        logger: ctx.logger.child({ component: 'retry-worker' }),
        concurrency: retry.concurrency,
        drainGraceMs: deps.drainGraceMs,
        ...(observer ? { observer } : {}),
        ...(breaker ? { breaker, promoteDelayed: () => queue.queue.promoteJobs() } : {}),
      });
      ctx.closer.add('retry worker', () => worker.close());
      await worker.start();
      return worker;
    },
  };
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
