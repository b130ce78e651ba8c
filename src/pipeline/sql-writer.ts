import type { Logger } from 'pino';
import type { CloudEvent } from '../cloudevents/cloud-event.ts';
import type { HandlerRegistry } from '../handlers/registry.ts';
import { appliedKeys, inboxKey, recordApplied } from '../inbox/inbox.ts';
import { toSqlError } from '../sql/classify.ts';
import type { SqlClient } from '../sql/client.ts';
import type { SqlError, SqlErrorCode } from '../sql/errors.ts';
import type { WriteResult } from './breaker.ts';
import type { Outcome } from './outcome.ts';

export type SqlWriterOptions = {
  db: SqlClient;
  handlers: HandlerRegistry;
  /** @defaultValue no logging */
  logger?: Pick<Logger, 'warn' | 'error' | 'debug'>;
  /** Told each batch's size and each transaction's duration, for metrics. @defaultValue none */
  observer?: SqlWriterObserver;
  /** Told what each transaction said about the database: the breaker's feed. @defaultValue none */
  onResult?: (result: WriteResult) => void;
};

export type SqlWriterObserver = {
  batch?(events: number): void;
  /** One transaction: seconds it took, and whether it committed. */
  transaction?(seconds: number, result: 'committed' | 'failed'): void;
};

export type SqlWriter = {
  /** Writes a batch in one transaction; every event id of the batch gets an outcome. */
  writeBatch(events: readonly CloudEvent[]): Promise<Map<string, Outcome>>;
};

/**
 * Permanent errors that no message causes: the deployment is wrong (login, permissions, schema
 * not migrated). Dead-lettering would blame every message; they go back to Service Bus instead.
 */
const NOT_THE_MESSAGES_FAULT: ReadonlySet<SqlErrorCode> = new Set([
  'LoginFailed',
  'PermissionDenied',
  'InvalidStatement',
  'PoolClosed',
  'CertificateRejected',
]);

const describe = (e: SqlError): string =>
  e.number !== undefined ? `SQL error ${e.number}: ${e.message}` : `${e.code}: ${e.message}`;

/**
 * The SQL writer: one transaction per batch that skips message ids already in the inbox, applies
 * the new events' writes set-based and records their ids in the inbox (exactly-once effect).
 * A permanent error splits the batch in halves until the poison events are alone, so the others
 * still commit; a transient error sends the whole (sub-)batch back for a later retry.
 */
export const createSqlWriter = (options: SqlWriterOptions): SqlWriter => {
  const { db, logger: log, observer, handlers } = options;

  const writeOnce = (batch: readonly CloudEvent[]): Promise<void> =>
    db.transaction(async (tx) => {
      const done = await appliedKeys(tx, batch);
      const fresh = batch.filter((e) => !done.has(inboxKey(e.id)));
      if (fresh.length === 0) return;
      const byType = new Map<string, CloudEvent[]>();
      for (const e of fresh) {
        const group = byType.get(e.type);
        if (group) group.push(e);
        else byType.set(e.type, [e]);
      }
      for (const [type, group] of byType) await handlers.write(type, group, tx);
      await recordApplied(tx, fresh);
    });

  return {
    async writeBatch(events) {
      observer?.batch?.(events.length);
      const outcomes = new Map<string, Outcome>();
      // One event per id (case-insensitively, as the inbox key): a redelivery inside the batch shares the outcome.
      const unique = new Map<string, CloudEvent>();
      const known: CloudEvent[] = [];
      for (const e of events) {
        if (unique.has(inboxKey(e.id))) continue;
        unique.set(inboxKey(e.id), e);
        if (handlers.has(e.type)) known.push(e);
        else
          outcomes.set(e.id, {
            kind: 'deadLetter',
            reason: 'UnknownType',
            description: `No SQL handler for event type ${e.type}`,
          });
      }
      const settle = (batch: readonly CloudEvent[], outcome: Outcome): void => {
        for (const e of batch) outcomes.set(e.id, outcome);
      };
      const attempt = async (batch: readonly CloudEvent[]): Promise<void> => {
        if (batch.length === 0) return;
        const started = performance.now();
        try {
          await writeOnce(batch);
          observer?.transaction?.((performance.now() - started) / 1000, 'committed');
          options.onResult?.({ ok: true });
          settle(batch, { kind: 'complete' });
        } catch (e: unknown) {
          observer?.transaction?.((performance.now() - started) / 1000, 'failed');
          const error = toSqlError(e);
          const { code, number, message } = error;
          options.onResult?.({ ok: false, transient: error.transient, error: { code, number, message } });
          if (error.transient) {
            // It heals by itself: retried, and a run of them is the breaker's to report, once.
            log?.debug(
              { stage: 'write', code, number, events: batch.length, error: message },
              'SQL batch not written; retried',
            );
            settle(batch, { kind: 'abandon', error, retryable: true });
            return;
          }
          if (NOT_THE_MESSAGES_FAULT.has(error.code)) {
            log?.warn(
              { stage: 'write', code, number, events: batch.length, error: message },
              'SQL batch not written: the deployment is at fault, not the messages; they go back',
            );
            settle(batch, { kind: 'abandon', error, retryable: false });
            return;
          }
          if (batch.length === 1) {
            const [poison] = batch as [CloudEvent];
            log?.error(
              { stage: 'write', messageId: poison.id, code: error.code, number: error.number },
              'poison message dead-lettered',
            );
            settle(batch, { kind: 'deadLetter', reason: 'PermanentSqlError', description: describe(error) });
            return;
          }
          log?.debug(
            { stage: 'write', events: batch.length, number: error.number },
            'permanent SQL error; splitting the batch',
          );
          const mid = Math.ceil(batch.length / 2);
          await attempt(batch.slice(0, mid));
          await attempt(batch.slice(mid));
        }
      };
      await attempt(known);
      for (const e of events)
        outcomes.set(
          e.id,
          outcomes.get(e.id) ?? (outcomes.get(unique.get(inboxKey(e.id))?.id ?? '') as Outcome),
        );
      return outcomes;
    },
  };
};
