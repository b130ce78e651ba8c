import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import type { Logger } from 'pino';
import { createStateMachine } from '../lifecycle.ts';
import { lazyChild } from '../logger.ts';
import { type Decision, decide } from '../pipeline/decide.ts';
import type { Outcome } from '../pipeline/outcome.ts';
import {
  ConsumerError,
  type ConsumerOptions,
  type ConsumerReceiver,
  type ConsumerState,
  type ConsumerStats,
  guardObserver,
  resolveConsumerOptions,
} from './consumer-options.ts';
import { entityPath } from './entity.ts';
import { serviceBusCode } from './errors.ts';
import { keepLocked } from './lock-renewal.ts';
import { createReceiverLink } from './receiver-link.ts';
import { describeError, type SettlementReport, settle } from './settle.ts';
import { createReceiverWatchdog, type ReceiverWatchdog } from './watchdog.ts';

export type Consumer = {
  /** Opens the receiver and starts taking messages. */
  start(): Promise<void>;
  /** Stops taking messages, drains in-flight ones within the grace period, abandons the rest. Idempotent. */
  close(): Promise<void>;
  stats(): ConsumerStats;
};

/**
 * A peek-lock consumer: every message it receives is settled exactly once — dead-lettered at once
 * when it is not a valid event, otherwise as `handle` decides — and nothing a message contains can
 * crash or stall it. A small state machine over the receive link (`receiver-link.ts`) and the
 * outcome decision (`pipeline/decide.ts`); it owns counting, settling and draining.
 */
export function createConsumer(options: ConsumerOptions): Consumer {
  const o = resolveConsumerOptions(options);
  const logger = o.logger.child({ entity: entityPath(o.entity) });
  const counts = { received: 0, completed: 0, deadLettered: 0, abandoned: 0, deferred: 0, settleFailures: 0 };
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
  const inFlight = new Set<Promise<void>>();
  const drainAbort = new AbortController();
  const decideOptions = { schemas: o.schemas, handle: o.handle, signal: drainAbort.signal };
  const observe = guardObserver(o.observer, (error, hook) =>
    logger.warn({ err: error, hook }, 'consumer observer failed'),
  );

  const count = (report: SettlementReport): void => {
    if (!report.settled) counts.settleFailures++;
    else if (report.outcome === 'complete') counts.completed++;
    else if (report.outcome === 'deadLetter') counts.deadLettered++;
    else if (report.outcome === 'abandon') counts.abandoned++;
    else counts.deferred++;
  };

  const settleOnce = async (
    from: ConsumerReceiver,
    message: ServiceBusReceivedMessage,
    { outcome, stage }: Decision,
    log: Logger,
    stopRenewal: () => void,
  ): Promise<void> => {
    // As the SDK does: no renewal races the settlement, and after a failed one the lock lapses.
    stopRenewal();
    observe.settling(message, outcome);
    const report = await settle(from, message, outcome, log, o.settleTimeoutMs);
    count(report);
    observe.settled(report, outcome, message);
    if (!report.settled) return;
    if (outcome.kind === 'deadLetter') {
      // The stage that decided it: an invalid message at 'validate', a poison write at 'write'.
      log.error({ stage, reason: outcome.reason, description: outcome.description }, 'dead-lettered');
    } else if (outcome.kind === 'abandon' || outcome.kind === 'defer') {
      // Per message, and it heals by itself (redelivery or retry): not info in the steady state.
      log.debug({ outcome: outcome.kind, error: describeError(outcome.error) }, `message ${outcome.kind}ed`);
    } else {
      log.debug('completed');
    }
  };

  /** Receive → decide → settle for one message; never rejects. */
  const work = async (from: ConsumerReceiver, message: ServiceBusReceivedMessage, log: Logger) => {
    const stopRenewal = keepLocked(from, message, {
      maxMs: o.lockRenewalMaxMs,
      onError: (error) => {
        const code = serviceBusCode(error);
        log.warn({ stage: 'renewLock', code, err: error }, 'renewing the lock failed');
        observe.receiveError('renewLock', code);
      },
      now: o.now,
    });
    // Credit already granted can still bring messages after close began: hand them straight back.
    if (state.current !== 'running') {
      const outcome: Outcome = { kind: 'abandon', error: new Error('consumer is closing') };
      await settleOnce(from, message, { outcome, stage: 'write' }, log, stopRenewal);
      return;
    }
    let decision: Decision;
    try {
      decision = await decide(message, log, decideOptions);
    } catch (error: unknown) {
      // decide is written not to throw; this keeps a bug from stalling a credit.
      log.error({ stage: 'validate', err: error }, 'unexpected error before settlement; abandoning');
      decision = { outcome: { kind: 'abandon', error }, stage: 'validate' };
    }
    observe.decided(message, decision.outcome);
    await settleOnce(from, message, decision, log, stopRenewal);
  };

  const onMessage = async (from: ConsumerReceiver, message: ServiceBusReceivedMessage): Promise<void> => {
    counts.received++;
    lastMessageAt = lastActivityAt = o.now();
    const traced = observe.received(message);
    const log = lazyChild(logger, () => ({
      messageId: message.messageId === undefined ? undefined : String(message.messageId),
      sequenceNumber: message.sequenceNumber?.toString(),
      deliveryCount: message.deliveryCount,
      ...traced,
    }));
    const done = work(from, message, log);
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
    onReceiveError: (source, code) => observe.receiveError(source, code),
    logger,
    now: o.now,
  });

  const open = (): void => {
    link.open();
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
      open();
      if (o.watchdog) {
        watchdog = createReceiverWatchdog({
          idleMs: o.watchdog.idleMs,
          lastActivityAt: () => lastActivityAt,
          inFlight: () => inFlight.size,
          hasWaitingMessages: () => link.hasWaitingMessages(),
          recreate: async () => {
            if (state.current !== 'running') return;
            await link.close(settled);
            if (state.current !== 'running') return;
            open();
            receiverRestarts++;
            observe.receiverRestarted();
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
        state.transition('closed', counts);
      })();
      return closing;
    },

    stats: () => ({
      state: state.current,
      inFlight: inFlight.size,
      ...counts,
      receiverRestarts,
      lastMessageAt,
      receiverOpen: state.current === 'running' && link.isOpen(),
    }),
  };
}
