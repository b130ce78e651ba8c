import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { Handler } from './handlers/handler.ts';
import { createHandlerRegistry } from './handlers/registry.ts';
import type { Readiness } from './http/readiness.ts';
import type { IdentityDescription } from './identity/describe.ts';
import { startIdentity } from './identity/start-identity.ts';
import { startInboxRetention } from './inbox/retention.ts';
import { startSecretStore } from './keyvault/secret-store.ts';
import { createCloser, createStateMachine, type StartContext } from './lifecycle.ts';
import {
  messageMetrics,
  receiverMetrics,
  retryMetrics,
  tokenMetrics,
  writerMetrics,
} from './metrics/pipeline-metrics.ts';
import type { Metrics } from './metrics-registry.ts';
import { startBreaker } from './pipeline/breaker.ts';
import { startWritePath } from './pipeline/write-path.ts';
import { startRetryTier } from './retry/retry-tier.ts';
import { startServiceBusClient } from './servicebus/client.ts';
import { type Consumer, startConsumer } from './servicebus/consumer.ts';
import { entityPath } from './servicebus/entity.ts';
import { combineMessageObservers, createMessagePath } from './servicebus/message-path.ts';
import { startSqlPool } from './sql/start-sql.ts';
import { startTelemetry } from './telemetry/start-telemetry.ts';
import type { SpanExporter } from './telemetry/tracing.ts';

export type WorkerState = 'starting' | 'running' | 'draining' | 'stopped';

export type Worker = {
  readonly state: WorkerState;
  readonly identity: IdentityDescription;
  readonly consumer: Consumer;
  /** Stops taking messages, drains in-flight ones within the grace period, closes every client. */
  close(): Promise<{ name: string; error: unknown }[]>;
};

export type WorkerDeps = {
  /** The event types the worker handles (src/handlers/handlers.ts, or the list HANDLERS_MODULE names). */
  handlers: readonly Handler[];
  logger: Logger;
  signal?: AbortSignal;
  /** Where components register their instruments. @defaultValue none (no metrics) */
  metrics?: Metrics;
  /** Where components add their readiness checks as they come up. @defaultValue none */
  readiness?: Readiness;
  /** Span exporters besides the configured ones (tests: in memory). @defaultValue [] */
  spanExporters?: readonly SpanExporter[];
};

/**
 * Builds the worker from its config, one component after another in the order the pipeline needs
 * them; each registers its own cleanup, readiness check and gauges, so what is acquired is released
 * in reverse order, also when start fails half-way.
 */
export async function startWorker(config: Config, deps: WorkerDeps): Promise<Worker> {
  const { logger, metrics } = deps;
  const closer = createCloser();
  const ctx: StartContext = { logger, closer, signal: deps.signal, metrics, readiness: deps.readiness };
  const state = createStateMachine<WorkerState>({
    component: 'worker',
    initial: 'starting',
    moves: { starting: ['running', 'stopped'], running: ['draining'], draining: ['stopped'], stopped: [] },
    logger,
  });
  // Not ready until every start step is done; the body says which step it is still in.
  deps.readiness?.add('worker', () => {
    if (state.current !== 'running') throw new Error(state.current);
  });
  const { serviceBus, shutdownGraceMs: drainGraceMs } = config;
  try {
    const handlers = createHandlerRegistry(deps.handlers);
    const { credential, identity } = await startIdentity(
      config.identity,
      ctx,
      metrics && tokenMetrics(metrics),
    );
    const tracing = startTelemetry(
      config.telemetry,
      {
        credential,
        entity: entityPath(serviceBus.entity),
        exporters: deps.spanExporters,
        registry: metrics?.registry,
      },
      ctx,
    );
    await startSecretStore(config.keyVault, credential, identity, ctx);
    const pool = await startSqlPool(config.sql, credential, identity, ctx);
    const breaker = startBreaker(config.breaker, pool, ctx);
    startInboxRetention(config.inbox, pool, ctx, () => breaker.state === 'closed');
    const batcher = startWritePath(
      config.batch,
      {
        db: pool,
        handlers,
        breaker,
        observer: metrics && writerMetrics(metrics),
        aroundBatch: tracing?.traceBatch,
      },
      ctx,
    );
    const client = await startServiceBusClient(serviceBus, credential, identity, ctx);
    const retry = await startRetryTier(
      {
        retry: config.retry,
        redis: config.redis,
        entity: serviceBus.entity,
        holdMaxMs: config.breaker.holdMaxMs,
      },
      { client, credential, identity, drainGraceMs, gate: breaker },
      ctx,
    );
    const path = createMessagePath({
      schemas: handlers.schemas,
      handle: (event, m) => retry.policy.run(() => batcher.submit(event), m.message, m.logger, m.signal),
      logger: logger.child({ component: 'pipeline' }),
      observer: combineMessageObservers(metrics && messageMetrics(metrics), tracing?.observer),
      lockRenewalMaxMs: serviceBus.lockRenewalMaxMs,
    });
    const retryWorker = await retry.startWorker(path, {
      observer: metrics && retryMetrics(metrics),
      breaker,
    });
    const consumer = await startConsumer(
      serviceBus,
      { client, path, drainGraceMs, breaker, observer: metrics && receiverMetrics(metrics) },
      ctx,
    );
    // Closed first. The retry worker drains beside the consumer, not after it: two grace periods
    // in a row would outlast the platform's termination grace. The messages held for the database
    // go the retry tier's way at once, while Service Bus and Redis are still there, instead of
    // waiting out the drain to be abandoned. Their own close steps then wait for both.
    closer.add('intake', () => {
      void retryWorker.close().catch(() => undefined);
      breaker.close();
    });
    state.transition('running', { entity: serviceBus.entity, concurrency: serviceBus.concurrency });
    return {
      get state() {
        return state.current;
      },
      identity,
      consumer,
      async close() {
        if (state.current === 'running') state.transition('draining');
        deps.readiness?.setDraining();
        const failures = await closer.closeAll();
        if (state.current === 'draining') state.transition('stopped');
        return failures;
      },
    };
  } catch (error: unknown) {
    await closer.closeAll();
    state.transition('stopped');
    throw error;
  }
}
