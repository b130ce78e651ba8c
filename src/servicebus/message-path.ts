import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import type { Logger } from 'pino';
import type { EventSchemas, ParseOptions } from '../cloudevents/envelope.ts';
import { defaults } from '../defaults.ts';
import { lazyChild } from '../logger.ts';
import { type Decision, decide, type Handle } from '../pipeline/decide.ts';
import type { Outcome } from '../pipeline/outcome.ts';
import { serviceBusCode } from './errors.ts';
import { createLockKeeper } from './lock-renewal.ts';
import { describeError, type SettlementReport, type SettlingReceiver, settle } from './settle.ts';

/** Where a message came from: the receive link (a first delivery or a redelivery), or a retry job. */
export type MessageSource = 'receive' | 'retry';

/** Hooks the path calls synchronously for every message; a throw is logged and ignored. */
export type MessageObserver = {
  /** May return fields (trace ids) for the message's log lines; `fields` are the caller's (a retry's attempt). */
  received?(
    message: ServiceBusReceivedMessage,
    source: MessageSource,
    fields?: Readonly<Record<string, unknown>>,
  ): Record<string, string> | undefined;
  /** A valid event's outcome is decided (its effect committed when `complete`), before settlement. */
  decided?(message: ServiceBusReceivedMessage, outcome: Outcome, source: MessageSource): void;
  /** `renewed`: its lock was renewed at least once while it was handled. */
  settling?(
    message: ServiceBusReceivedMessage,
    outcome: Outcome,
    source: MessageSource,
    renewed: boolean,
  ): void;
  settled?(
    report: SettlementReport,
    outcome: Outcome,
    message: ServiceBusReceivedMessage,
    source: MessageSource,
  ): void;
  /** Renewing the message's lock failed (the lock is lost or about to be). */
  renewalFailed?(code: string | undefined, source: MessageSource): void;
};

export type MessagePathOptions = {
  /** Event type → data schema; other types are dead-lettered as `UnknownType`. */
  schemas: EventSchemas;
  /** Decides a valid event's outcome: the retry policy over the write path. */
  handle: Handle;
  /** Parent of every message's child logger. */
  logger: Logger;
  /** @defaultValue none */
  observer?: MessageObserver;
  /** How long locks are renewed for one message. @defaultValue 300000 */
  lockRenewalMaxMs?: number;
  /** How long one settlement may take before it counts as failed. @defaultValue 10000 */
  settleTimeoutMs?: number;
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number;
};

/** The receiver calls the path makes on a message: settle it and keep its lock. */
export type PathReceiver = SettlingReceiver & Pick<ServiceBusReceiver, 'renewMessageLock'>;

export type ProcessOptions = {
  source: MessageSource;
  /** Aborted when the drain grace period ends: the message is abandoned without waiting any longer. */
  signal: AbortSignal;
  /** How the receiving call handed the message over. @defaultValue {} */
  parse?: ParseOptions;
  /** Fields for the message's log lines besides its ids (a retry's attempt). */
  fields?: Record<string, unknown>;
  /** An outcome decided already (a message that arrives while the consumer closes). */
  decided?: Decision;
};

export type PathCounts = {
  received: number;
  completed: number;
  deadLettered: number;
  abandoned: number;
  deferred: number;
  settleFailures: number;
};

export type Processed = { outcome: Outcome; report: SettlementReport };

export type MessagePath = {
  /** Parse → handle → settle → observe, for one message held by `from`; never rejects. */
  process(
    from: PathReceiver,
    message: ServiceBusReceivedMessage,
    options: ProcessOptions,
  ): Promise<Processed>;
  /** What happened to the messages of one source so far. */
  counts(source: MessageSource): Readonly<PathCounts>;
};

const zero = (): PathCounts => ({
  received: 0,
  completed: 0,
  deadLettered: 0,
  abandoned: 0,
  deferred: 0,
  settleFailures: 0,
});

/**
 * The one path a message takes, whether the receive link delivered it or a retry job received it
 * by sequence number: its lock is kept while it is handled, it is settled exactly once as its
 * outcome says, and counted, observed and logged the same way. Nothing a message contains can make
 * it reject.
 */
export function createMessagePath(options: MessagePathOptions): MessagePath {
  const { logger, schemas, handle } = options;
  const now = options.now ?? Date.now;
  const locks = createLockKeeper({ maxMs: options.lockRenewalMaxMs ?? defaults.lockRenewalMaxMs, now });
  const settleTimeoutMs = options.settleTimeoutMs ?? defaults.settleTimeoutMs;
  const counts: Record<MessageSource, PathCounts> = { receive: zero(), retry: zero() };
  const observer = options.observer ?? {};
  // Metrics and traces must never change what happens to a message: a hook that throws is logged.
  // Each hook has its own wrapper, with fixed parameters: nothing is allocated per call.
  const failed = (hook: string, error: unknown) =>
    logger.warn({ err: error, hook }, 'message observer failed');
  const observe: Required<MessageObserver> = {
    received(message, source, fields) {
      try {
        return observer.received?.(message, source, fields);
      } catch (error: unknown) {
        failed('received', error);
        return undefined;
      }
    },
    decided(message, outcome, source) {
      try {
        observer.decided?.(message, outcome, source);
      } catch (error: unknown) {
        failed('decided', error);
      }
    },
    settling(message, outcome, source, renewed) {
      try {
        observer.settling?.(message, outcome, source, renewed);
      } catch (error: unknown) {
        failed('settling', error);
      }
    },
    settled(report, outcome, message, source) {
      try {
        observer.settled?.(report, outcome, message, source);
      } catch (error: unknown) {
        failed('settled', error);
      }
    },
    renewalFailed(code, source) {
      try {
        observer.renewalFailed?.(code, source);
      } catch (error: unknown) {
        failed('renewalFailed', error);
      }
    },
  };

  const count = (c: PathCounts, report: SettlementReport): void => {
    if (!report.settled) c.settleFailures++;
    else if (report.outcome === 'complete') c.completed++;
    else if (report.outcome === 'deadLetter') c.deadLettered++;
    else if (report.outcome === 'abandon') c.abandoned++;
    else c.deferred++;
  };

  const logSettled = (log: Logger, { outcome, stage }: Decision, source: MessageSource): void => {
    if (outcome.kind === 'deadLetter') {
      // The stage that decided it: an invalid message at 'validate', a poison write at 'write'.
      log.error({ stage, source, reason: outcome.reason, description: outcome.description }, 'dead-lettered');
    } else if (outcome.kind === 'abandon' || outcome.kind === 'defer') {
      // Per message, and it heals by itself (redelivery or retry): not info in the steady state.
      log.debug({ outcome: outcome.kind, error: describeError(outcome.error) }, `message ${outcome.kind}ed`);
    } else {
      log.debug('completed');
    }
  };

  return {
    async process(from, message, o) {
      const c = counts[o.source];
      c.received++;
      const traced = observe.received(message, o.source, o.fields);
      const log = lazyChild(logger, () => ({
        messageId: message.messageId === undefined ? undefined : String(message.messageId),
        sequenceNumber: message.sequenceNumber?.toString(),
        deliveryCount: message.deliveryCount,
        ...o.fields,
        ...traced,
      }));
      const lock = locks.hold(from, message, (error) => {
        const code = serviceBusCode(error);
        log.warn({ stage: 'renewLock', code, err: error }, 'renewing the lock failed');
        observe.renewalFailed(code, o.source);
      });
      let decision = o.decided;
      if (!decision) {
        try {
          decision = await decide(message, log, { schemas, handle, signal: o.signal, parse: o.parse });
        } catch (error: unknown) {
          // decide is written not to throw; this keeps a bug from stalling a credit.
          log.error({ stage: 'validate', err: error }, 'unexpected error before settlement; abandoning');
          decision = { outcome: { kind: 'abandon', error }, stage: 'validate' };
        }
        observe.decided(message, decision.outcome, o.source);
      }
      const { outcome } = decision;
      // As the SDK does: no renewal races the settlement, and after a failed one the lock lapses.
      lock.release();
      observe.settling(message, outcome, o.source, lock.renewed);
      const report = await settle(from, message, outcome, log, settleTimeoutMs);
      count(c, report);
      observe.settled(report, outcome, message, o.source);
      if (report.settled) logSettled(log, decision, o.source);
      return { outcome, report };
    },
    counts: (source) => ({ ...counts[source] }),
  };
}

/** One observer that calls each of `observers` in turn; the fields `received` returns are merged. */
export function combineMessageObservers(...observers: (MessageObserver | undefined)[]): MessageObserver {
  const all = observers.filter((o): o is MessageObserver => o !== undefined);
  if (all.length === 1) return all[0] as MessageObserver;
  return {
    received(message, source, extra) {
      let fields: Record<string, string> | undefined;
      for (const o of all) {
        const r = o.received?.(message, source, extra);
        if (r) fields = { ...fields, ...r };
      }
      return fields;
    },
    decided: (...args) => {
      for (const o of all) o.decided?.(...args);
    },
    settling: (...args) => {
      for (const o of all) o.settling?.(...args);
    },
    settled: (...args) => {
      for (const o of all) o.settled?.(...args);
    },
    renewalFailed: (...args) => {
      for (const o of all) o.renewalFailed?.(...args);
    },
  };
}
