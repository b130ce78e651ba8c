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

const setup = (messages: ServiceBusReceivedMessage[], live: Set<string>) => {
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
        peeks.push({ from, count });
        return messages.filter((m) => Number(m.sequenceNumber) >= from).slice(0, count);
      },
      async close() {},
    }),
    queue: {
      isLive: async (d) => live.has(d.sequenceNumber),
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
});
