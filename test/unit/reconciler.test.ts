import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import Long from 'long';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { RetryJobData } from '../../src/retry/job.ts';
import { createReconciler } from '../../src/retry/reconciler.ts';

const logger = pino({ level: 'silent' });

/** An entity of `size` messages where every third one is deferred at attempt 2. */
const entity = (size: number) =>
  Array.from({ length: size }, (_, i) => ({
    sequenceNumber: Long.fromNumber(i + 1),
    messageId: `m-${i + 1}`,
    state: i % 3 === 0 ? 'deferred' : 'active',
    applicationProperties: { RetryAttempt: 2, RetryLastError: 'Unavailable: database unavailable' },
  })) as unknown as ServiceBusReceivedMessage[];

/** `live` holds `sequenceNumber` (any attempt) or `sequenceNumber@attempt`. */
const setup = (
  messages: ServiceBusReceivedMessage[],
  live: Set<string>,
  /** What a peek of one message sees, when it moved on since its page was read. */
  now: (m: ServiceBusReceivedMessage) => ServiceBusReceivedMessage = (m) => m,
) => {
  const peeks: { from: number; count: number }[] = [];
  const added: RetryJobData[] = [];
  const reconciler = createReconciler({
    entity: 'orders',
    baseDelayMs: 1_000,
    factor: 2,
    maxDelayMs: 10_000,
    intervalMs: 60_000,
    pageSize: 10,
    maxPagesPerPass: 3,
    logger,
    createPeeker: () => ({
      async peekMessages(count, options) {
        const from = Number(options?.fromSequenceNumber ?? 0);
        const page = messages.filter((m) => Number(m.sequenceNumber) >= from).slice(0, count);
        if (count === 1) return page.map(now);
        peeks.push({ from, count });
        return page;
      },
      async close() {},
    }),
    queue: {
      isLive: async (d) => live.has(d.sequenceNumber) || live.has(`${d.sequenceNumber}@${d.attempt}`),
      add: async (d) => {
        added.push(d);
        return 'added';
      },
    },
  });
  return { reconciler, peeks, added };
};

describe('the reconciler', () => {
  it('re-adds the job of each deferred message that has none, at the attempt written on it', async () => {
    const { reconciler, added } = setup(entity(9), new Set(['4']));
    expect(await reconciler.pass()).toEqual({ peeked: 9, deferred: 3, readded: 2 });
    expect(added.map((d) => d.sequenceNumber)).toEqual(['1', '7']);
    expect(added[0]).toMatchObject({
      entity: 'orders',
      attempt: 2,
      lastError: { code: 'Unavailable', message: 'database unavailable' },
    });
  });

  it('reads a bounded number of pages per pass and goes on from its cursor, starting over at the end', async () => {
    const { reconciler, peeks } = setup(entity(45), new Set());
    expect((await reconciler.pass()).peeked).toBe(30);
    expect(peeks.map((p) => p.from)).toEqual([0, 11, 21]);
    expect((await reconciler.pass()).peeked).toBe(15);
    expect(peeks.slice(3).map((p) => p.from)).toEqual([31, 41]);
    await reconciler.pass();
    expect(peeks[5]?.from).toBe(0);
  });

  it('adds nothing for a message whose attempt ran since its page was read and whose next job is live', async () => {
    const moved = (m: ServiceBusReceivedMessage) =>
      ({
        ...m,
        applicationProperties: { ...m.applicationProperties, RetryAttempt: 3 },
      }) as ServiceBusReceivedMessage;
    // 1: deferred again at attempt 3, its job live. 4: its attempt-3 job added, the defer on its way.
    // 7: moved on to attempt 3 and that job was lost: it gets attempt 3, not the stale 2.
    const { reconciler, added } = setup(entity(9), new Set(['1@3', '4@3']), (m) =>
      m.messageId === 'm-4' ? m : moved(m),
    );
    expect(await reconciler.pass()).toEqual({ peeked: 9, deferred: 3, readded: 1 });
    expect(added.map((d) => `${d.sequenceNumber}@${d.attempt}`)).toEqual(['7@3']);
  });

  it('adds nothing for a message settled since its page was read', async () => {
    const { reconciler, added } = setup(entity(9), new Set(), (m) =>
      m.messageId === 'm-1' ? m : ({ ...m, state: 'active' } as ServiceBusReceivedMessage),
    );
    expect(await reconciler.pass()).toMatchObject({ readded: 1 });
    expect(added.map((d) => d.sequenceNumber)).toEqual(['1']);
  });
});
