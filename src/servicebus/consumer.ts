import type {
  ProcessErrorArgs,
  ServiceBusErrorCode,
  ServiceBusReceivedMessage,
  ServiceBusReceiverOptions,
} from '@azure/service-bus';
import type { Logger } from 'pino';
import { createStateMachine } from '../lifecycle.ts';
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
import { cloudEventReceiverOptions, parseCloudEvent } from './envelope.ts';
import { serviceBusCode } from './errors.ts';
import { receiverLinkOpen } from './link-state.ts';
import { describeError, type SettlementReport, settle } from './settle.ts';
import { createReceiverWatchdog, type ReceiverWatchdog } from './watchdog.ts';

export type Consumer = {
  /** Opens the receiver and starts taking messages. */
  start(): Promise<void>;
  /** Stops taking messages, drains in-flight ones within the grace period, abandons the rest. Idempotent. */
  close(): Promise<void>;
  stats(): ConsumerStats;
};

// Service Bus error codes that no reconnect will fix: someone has to act.
const permanentReceiveCodes: ReadonlySet<string> = new Set<ServiceBusErrorCode>([
  'UnauthorizedAccess',
  'MessagingEntityNotFound',
  'MessagingEntityDisabled',
]);

/**
 * A peek-lock consumer: every message it receives is settled exactly once — dead-lettered at once
 * when it is not a valid event, otherwise as `handle` decides — and nothing a message contains can
 * crash or stall it.
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
  let receiver: ConsumerReceiver | undefined;
  let subscription: { close(): Promise<void> } | undefined;
  let watchdog: ReceiverWatchdog | undefined;
  let receiverRestarts = 0;
  let lastMessageAt: number | undefined;
  let lastActivityAt = o.now();
  let closing: Promise<void> | undefined;
  const inFlight = new Set<Promise<void>>();
  const drainAbort = new AbortController();
  const observe = guardObserver(o.observer, (error, hook) =>
    logger.warn({ err: error, hook }, 'consumer observer failed'),
  );

  const receiverOptions: ServiceBusReceiverOptions = {
    receiveMode: 'peekLock',
    maxAutoLockRenewalDurationInMs: o.lockRenewalMaxMs,
    ...cloudEventReceiverOptions,
  };

  const createReceiver = (): ConsumerReceiver =>
    'queue' in o.entity
      ? o.client.createReceiver(o.entity.queue, receiverOptions)
      : o.client.createReceiver(o.entity.topic, o.entity.subscription, receiverOptions);

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
    outcome: Outcome,
    log: Logger,
    stage: 'validate' | 'write' = 'write',
  ): Promise<void> => {
    observe.settling(message, outcome);
    const report = await settle(from, message, outcome, log, o.settleTimeoutMs);
    count(report);
    observe.settled(report, outcome, message);
    if (report.settled) {
      if (outcome.kind === 'deadLetter') {
        log.error(
          // The stage that decided it: an invalid message at 'validate', a poison write at 'write'.
          { stage, reason: outcome.reason, description: outcome.description },
          'dead-lettered',
        );
      } else if (outcome.kind === 'abandon' || outcome.kind === 'defer') {
        // Per message, and it heals by itself (redelivery or retry): not info in the steady state.
        log.debug(
          { outcome: outcome.kind, error: describeError(outcome.error) },
          `message ${outcome.kind}ed`,
        );
      } else {
        log.debug('completed');
      }
    }
  };

  /** Runs `handle`, turning a throw into abandon and the end of the drain grace period into abandon. */
  const decide = async (
    message: ServiceBusReceivedMessage,
    log: Logger,
  ): Promise<{ outcome: Outcome; stage: 'validate' | 'write' }> => {
    const parsed = parseCloudEvent(message, o.schemas);
    if (!parsed.ok) {
      const outcome: Outcome = { kind: 'deadLetter', reason: parsed.reason, description: parsed.description };
      return { outcome, stage: 'validate' };
    }
    const log2 = log.child({ eventType: parsed.event.type });
    const handled = Promise.resolve()
      .then(() => o.handle(parsed.event, { logger: log2, signal: drainAbort.signal, message }))
      .catch((error: unknown): Outcome => {
        log2.warn({ stage: 'write', err: error }, 'handle() threw; abandoning the message');
        return { kind: 'abandon', error };
      });
    const aborted = new Promise<Outcome>((resolve) => {
      const onAbort = () =>
        resolve({
          kind: 'abandon',
          error: new Error('shutdown grace period ended before handling finished'),
        });
      if (drainAbort.signal.aborted) onAbort();
      else drainAbort.signal.addEventListener('abort', onAbort, { once: true });
    });
    return { outcome: await Promise.race([handled, aborted]), stage: 'write' };
  };

  const processMessage = (from: ConsumerReceiver) => async (message: ServiceBusReceivedMessage) => {
    counts.received++;
    lastMessageAt = lastActivityAt = o.now();
    const traced = observe.received(message);
    const log = logger.child({
      messageId: message.messageId === undefined ? undefined : String(message.messageId),
      sequenceNumber: message.sequenceNumber?.toString(),
      deliveryCount: message.deliveryCount,
      ...traced,
    });
    const work = (async () => {
      // Credit already granted can still bring messages after close began: hand them straight back.
      if (state.current !== 'running') {
        await settleOnce(from, message, { kind: 'abandon', error: new Error('consumer is closing') }, log);
        return;
      }
      let decision: Awaited<ReturnType<typeof decide>>;
      try {
        decision = await decide(message, log);
      } catch (error: unknown) {
        // parseCloudEvent and decide are written not to throw; this keeps a bug from stalling a credit.
        log.error({ stage: 'validate', err: error }, 'unexpected error before settlement; abandoning');
        decision = { outcome: { kind: 'abandon', error }, stage: 'validate' };
      }
      observe.decided(message, decision.outcome);
      await settleOnce(from, message, decision.outcome, log, decision.stage);
    })();
    inFlight.add(work);
    try {
      await work;
    } finally {
      inFlight.delete(work);
    }
  };

  const processError = async (args: ProcessErrorArgs): Promise<void> => {
    const code = serviceBusCode(args.error);
    const level = code && permanentReceiveCodes.has(code) ? 'error' : 'warn';
    observe.receiveError(args.errorSource, code);
    logger[level](
      { stage: 'receive', errorSource: args.errorSource, code, err: args.error },
      'Service Bus receive error; the SDK reconnects by itself',
    );
  };

  const subscribe = (): void => {
    const current = createReceiver();
    receiver = current;
    subscription = current.subscribe(
      { processMessage: processMessage(current), processError },
      { autoCompleteMessages: false, maxConcurrentCalls: o.concurrency },
    );
    lastActivityAt = o.now();
  };

  /** Resolves when no message is in flight, including ones that arrive while waiting. */
  const settled = async (): Promise<void> => {
    while (inFlight.size > 0) await Promise.all([...inFlight]);
  };

  const closeReceiver = async (): Promise<void> => {
    const [sub, rec] = [subscription, receiver];
    subscription = undefined;
    receiver = undefined;
    // Each step runs even when the one before failed: a stuck subscription must not leak the link.
    // Messages that arrived before the subscription stopped settle on this link, so wait for them.
    for (const step of [() => sub?.close(), () => settled(), () => rec?.close()]) {
      try {
        await step();
      } catch (error: unknown) {
        logger.warn({ stage: 'receive', err: error }, 'closing the receiver failed');
      }
    }
  };

  const hasWaitingMessages = async (): Promise<boolean> => {
    // A fresh receiver peeks from the start: a receiver's own peek cursor only moves forward.
    const peeker = createReceiver();
    try {
      const now = o.now();
      const peeked = await peeker.peekMessages(o.concurrency);
      return peeked.some(
        (m) => m.state === 'active' && !(m.lockedUntilUtc && m.lockedUntilUtc.getTime() > now),
      );
    } finally {
      await peeker.close();
    }
  };

  return {
    async start() {
      if (state.current === 'running') return;
      if (state.current !== 'idle')
        throw new ConsumerError('Closed', 'the consumer was closed; create a new one');
      // Running before the first message can arrive: one that finds the consumer not running is handed back.
      state.transition('running', { concurrency: o.concurrency });
      subscribe();
      if (o.watchdog) {
        watchdog = createReceiverWatchdog({
          idleMs: o.watchdog.idleMs,
          lastActivityAt: () => lastActivityAt,
          inFlight: () => inFlight.size,
          hasWaitingMessages,
          recreate: async () => {
            if (state.current !== 'running') return;
            await closeReceiver();
            if (state.current !== 'running') return;
            subscribe();
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
          await subscription?.close();
        } catch (error: unknown) {
          logger.warn({ stage: 'receive', err: error }, 'stopping the subscription failed');
        }
        let timer: NodeJS.Timeout | undefined;
        const graceOver = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), o.drainGraceMs);
        });
        const drained = await Promise.race([settled().then(() => 'drained' as const), graceOver]);
        clearTimeout(timer);
        if (drained === 'timeout') {
          logger.warn({ inFlight: inFlight.size }, 'drain grace period over; abandoning unfinished messages');
          drainAbort.abort();
          // Abandoning needs the receive link, so wait for those settlements before closing it.
          await settled();
        }
        await closeReceiver();
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
      receiverOpen: state.current === 'running' && receiverLinkOpen(receiver),
    }),
  };
}
