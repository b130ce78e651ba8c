import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import type { Config } from '../config.ts';
import { createStateMachine, type StartContext } from '../lifecycle.ts';
import { metricNames } from '../metrics-registry.ts';
import {
  ConsumerError,
  type ConsumerObserver,
  type ConsumerOptions,
  type ConsumerReceiver,
  type ConsumerState,
  type ConsumerStats,
  resolveConsumerOptions,
} from './consumer-options.ts';
import { entityPath } from './entity.ts';
import type { MessagePath, ProcessOptions } from './message-path.ts';
import { createReceiverLink } from './receiver-link.ts';
import { createReceiverWatchdog, type ReceiverWatchdog } from './watchdog.ts';

export type Consumer = {
  /** Opens the receiver and starts taking messages. */
  start(): Promise<void>;
  /** Stops taking messages, drains in-flight ones within the grace period, abandons the rest. Idempotent. */
  close(): Promise<void>;
  stats(): ConsumerStats;
};

/**
 * A peek-lock consumer: every message it receives goes through the message path, which settles it
 * exactly once, and nothing a message contains can crash or stall it. A small state machine over
 * the receive link (`receiver-link.ts`); it owns the credit window, the watchdog and the drain.
 */
export function createConsumer(options: ConsumerOptions): Consumer {
  const o = resolveConsumerOptions(options);
  const logger = o.logger.child({ entity: entityPath(o.entity) });
  const state = createStateMachine<ConsumerState>({
    component: 'consumer',
    initial: 'idle',
    moves: { idle: ['running', 'closed'], running: ['draining'], draining: ['closed'], closed: [] },
    logger,
  });
  let watchdog: ReceiverWatchdog | undefined;
  let receiverRestarts = 0;
  let lastMessageAt: number | undefined;
  let lastActivityAt = o.now();
  let closing: Promise<void> | undefined;
  const inFlight = new Set<Promise<unknown>>();
  const drainAbort = new AbortController();
  const processOptions: ProcessOptions = { source: 'receive', signal: drainAbort.signal };
  // Credit already granted can still bring messages after close began: hand them straight back.
  const closingOptions: ProcessOptions = {
    ...processOptions,
    decided: { outcome: { kind: 'abandon', error: new Error('consumer is closing') }, stage: 'write' },
  };
  const observe = {
    receiveError: (source: Parameters<NonNullable<typeof o.observer.receiveError>>[0], code?: string) => {
      try {
        o.observer.receiveError?.(source, code);
      } catch (error: unknown) {
        logger.warn({ err: error, hook: 'receiveError' }, 'consumer observer failed');
      }
    },
  };

  // Paused while the database is down: the backlog stays in Service Bus with its delivery counts.
  let paused = false;
  const pause = async (): Promise<void> => {
    if (paused || state.current !== 'running') return;
    paused = true;
    try {
      await link.stop();
    } catch (error: unknown) {
      logger.warn({ stage: 'receive', err: error }, 'stopping the subscription failed');
    }
  };
  const resume = (): void => {
    if (!paused) return;
    paused = false;
    lastActivityAt = o.now();
    if (state.current === 'running') link.resume();
  };
  const unsubscribe = o.breaker?.onChange((to) => {
    if (to === 'open') void pause();
    else if (to === 'closed') resume();
  });

  const onMessage = async (from: ConsumerReceiver, message: ServiceBusReceivedMessage): Promise<void> => {
    lastMessageAt = lastActivityAt = o.now();
    const done = o.path.process(from, message, state.current === 'running' ? processOptions : closingOptions);
    inFlight.add(done);
    try {
      await done;
    } finally {
      inFlight.delete(done);
    }
  };

  const link = createReceiverLink({
    client: o.client,
    entity: o.entity,
    creditWindow: o.concurrency,
    onMessage,
    onReceiveError: observe.receiveError,
    logger,
    now: o.now,
  });

  // A paused consumer opens its link without taking credit: nothing is delivered until it resumes.
  const open = (): void => {
    link.open(!paused);
    lastActivityAt = o.now();
  };

  /** Resolves when no message is in flight, including ones that arrive while waiting. */
  const settled = async (): Promise<void> => {
    while (inFlight.size > 0) await Promise.all([...inFlight]);
  };

  /** Waits for in-flight messages up to the grace period; false when it ran out. */
  const drainWithin = (ms: number): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void settled().then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });

  return {
    async start() {
      if (state.current === 'running') return;
      if (state.current !== 'idle')
        throw new ConsumerError('Closed', 'the consumer was closed; create a new one');
      // Running before the first message can arrive: one that finds the consumer not running is handed back.
      state.transition('running', { concurrency: o.concurrency });
      if (o.breaker && o.breaker.state !== 'closed') paused = true;
      open();
      if (o.watchdog) {
        watchdog = createReceiverWatchdog({
          idleMs: o.watchdog.idleMs,
          lastActivityAt: () => lastActivityAt,
          // A paused link delivers nothing on purpose: not a stall.
          inFlight: () => (paused ? Number.POSITIVE_INFINITY : inFlight.size),
          hasWaitingMessages: () => link.hasWaitingMessages(),
          recreate: async () => {
            if (state.current !== 'running') return;
            await link.close(settled);
            if (state.current !== 'running') return;
            open();
            receiverRestarts++;
            o.observer.receiverRestarted?.();
          },
          logger,
          now: o.now,
        });
        watchdog.start(o.watchdog.checkIntervalMs);
      }
    },

    close() {
      closing ??= (async () => {
        if (state.current === 'idle') {
          state.transition('closed');
          return;
        }
        state.transition('draining', { inFlight: inFlight.size });
        unsubscribe?.();
        watchdog?.stop();
        try {
          await link.stop();
        } catch (error: unknown) {
          logger.warn({ stage: 'receive', err: error }, 'stopping the subscription failed');
        }
        if (!(await drainWithin(o.drainGraceMs))) {
          logger.warn({ inFlight: inFlight.size }, 'drain grace period over; abandoning unfinished messages');
          drainAbort.abort();
          // Abandoning needs the receive link, so wait for those settlements before closing it.
          await settled();
        }
        await link.close(settled);
        state.transition('closed', o.path.counts('receive'));
      })();
      return closing;
    },

    stats: () => ({
      state: state.current,
      paused,
      inFlight: inFlight.size,
      ...o.path.counts('receive'),
      receiverRestarts,
      lastMessageAt,
      receiverOpen: state.current === 'running' && link.isOpen(),
    }),
  };
}

/**
 * The worker's consumer of the configured entity, taking messages once started. Closed first on
 * shutdown: it stops receiving and drains while the write path and the pool still work.
 */
export async function startConsumer(
  config: Config['serviceBus'],
  deps: {
    client: ConsumerOptions['client'];
    path: MessagePath;
    drainGraceMs: number;
    observer?: ConsumerObserver | undefined;
    breaker?: ConsumerOptions['breaker'];
  },
  ctx: StartContext,
): Promise<Consumer> {
  const consumer = createConsumer({
    client: deps.client,
    entity: config.entity,
    path: deps.path,
    logger: ctx.logger.child({ component: 'consumer' }),
    concurrency: config.concurrency,
    drainGraceMs: deps.drainGraceMs,
    ...(deps.observer ? { observer: deps.observer } : {}),
    ...(deps.breaker ? { breaker: deps.breaker } : {}),
  });
  ctx.metrics?.gauge(metricNames.inFlight, 'Messages received and not yet settled.', {
    collect: (g) => g.set(consumer.stats().inFlight),
  });
  ctx.closer.add('consumer', () => consumer.close());
  await consumer.start();
  ctx.readiness?.add('servicebus', () => {
    if (!consumer.stats().receiverOpen) throw new Error('the receive link is not open');
  });
  return consumer;
}
