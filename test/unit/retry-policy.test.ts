import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import type { Outcome } from '../../src/pipeline/outcome.ts';
import { delayBoundMs, jitteredDelayMs } from '../../src/retry/backoff.ts';
import type { RetryJobData } from '../../src/retry/job.ts';
import { createRetryPolicy, retryProperties } from '../../src/retry/retry-policy.ts';
import { SqlError } from '../../src/sql/errors.ts';

const log = pino({ level: 'silent' });
const backoff = { baseDelayMs: 5_000, factor: 2, maxDelayMs: 600_000 };
const transient: Outcome = {
  kind: 'abandon',
  retryable: true,
  error: new SqlError('database unavailable', { code: 'Unavailable', transient: true, number: 40613 }),
};

const message = (properties: Record<string, number | string> = {}, deliveryCount = 0) =>
  ({
    messageId: 'm-1',
    sequenceNumber: { toString: () => '42' },
    deliveryCount,
    applicationProperties: properties,
    body: new Uint8Array(),
  }) as unknown as ServiceBusReceivedMessage;

const policyWith = (options: {
  add?: (d: RetryJobData, delayMs: number) => Promise<'added'>;
  maxAttempts?: number;
  baseDelayMs?: number;
}) => {
  const added: { data: RetryJobData; delayMs: number }[] = [];
  const policy = createRetryPolicy({
    ...backoff,
    baseDelayMs: options.baseDelayMs ?? backoff.baseDelayMs,
    entity: 'orders',
    queue: {
      add:
        options.add ??
        (async (data, delayMs) => {
          added.push({ data, delayMs });
          return 'added';
        }),
    },
    immediateAttempts: 2,
    immediateDelayMs: 1,
    maxAttempts: options.maxAttempts ?? 8,
    random: () => 0.5,
  });
  return { policy, added };
};

/** A write that answers the given outcomes in turn, then completes. */
const writes = (...outcomes: Outcome[]) => {
  let calls = 0;
  return {
    write: async (): Promise<Outcome> => outcomes[calls++] ?? { kind: 'complete' },
    calls: () => calls,
  };
};

describe('the backoff', () => {
  it('grows by the factor from the base and stops at the cap', () => {
    expect([1, 2, 3, 8, 9, 20].map((n) => delayBoundMs(n, backoff))).toEqual([
      5_000, 10_000, 20_000, 600_000, 600_000, 600_000,
    ]);
    expect(delayBoundMs(8, backoff)).toBe(600_000); // 5 s × 2^7 = 640 s, capped at 10 min
  });

  it('jitters fully below the bound', () => {
    expect(jitteredDelayMs(3, backoff, () => 0)).toBe(0);
    expect(jitteredDelayMs(3, backoff, () => 0.999_999)).toBeLessThan(20_000);
  });
});

describe('the retry policy', () => {
  it('retries a transient failure at once, and completes without a job when a retry succeeds', async () => {
    const { policy, added } = policyWith({});
    const w = writes(transient, transient);
    expect(await policy.run(w.write, message(), log)).toEqual({ kind: 'complete' });
    expect(w.calls()).toBe(3);
    expect(added).toEqual([]);
  });

  it('adds the next attempt job, then defers with the attempt written on the message', async () => {
    const { policy, added } = policyWith({});
    const w = writes(transient, transient, transient);
    const outcome = await policy.run(w.write, message({ [retryProperties.attempt]: 2 }, 2), log);
    expect(added).toEqual([
      {
        data: {
          entity: 'orders',
          sequenceNumber: '42',
          messageId: 'm-1',
          attempt: 3,
          lastError: { code: 'Unavailable', message: 'database unavailable' },
        },
        delayMs: 10_000, // half (random 0.5) of the bound of attempt 3
      },
    ]);
    expect(outcome).toMatchObject({
      kind: 'defer',
      properties: { RetryAttempt: 3, RetryLastError: 'Unavailable: database unavailable' },
    });
  });

  it('counts Service Bus redeliveries in the budget', async () => {
    const { policy, added } = policyWith({});
    await policy.run(writes(transient, transient, transient).write, message({}, 4), log);
    expect(added[0]?.data.attempt).toBe(5);
  });

  it('abandons when Redis does not take the job, so the message is never deferred without one', async () => {
    const { policy } = policyWith({
      add: async () => {
        throw new Error('Redis down');
      },
      baseDelayMs: 50,
    });
    const outcome = await policy.run(writes(transient, transient, transient).write, message(), log);
    expect(outcome).toEqual(transient);
  });

  it('dead-letters as RetriesExhausted with the last error once the budget is spent', async () => {
    const { policy, added } = policyWith({ maxAttempts: 3 });
    const outcome = await policy.run(
      writes(transient, transient, transient).write,
      message({ [retryProperties.attempt]: 3 }, 3),
      log,
    );
    expect(added).toEqual([]);
    expect(outcome).toMatchObject({ kind: 'deadLetter', reason: 'RetriesExhausted' });
    expect((outcome as { description: string }).description).toContain('Unavailable: database unavailable');
  });

  it('passes a permanent outcome through at once', async () => {
    const { policy } = policyWith({});
    const poison: Outcome = {
      kind: 'deadLetter',
      reason: 'PermanentSqlError',
      description: 'SQL error 2627',
    };
    const w = writes(transient, poison);
    expect(await policy.run(w.write, message(), log)).toEqual(poison);
    expect(w.calls()).toBe(2);
  });
});

describe('retry configuration', () => {
  const minimal = {
    SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: 'orders.servicebus.windows.net',
    SERVICEBUS_QUEUE: 'orders',
    SQL_SERVER: 'orders.database.windows.net',
    SQL_DATABASE: 'orders',
  };

  it('has the documented defaults', () => {
    const config = loadConfig(minimal);
    expect(config.retry).toEqual({
      immediateAttempts: 2,
      immediateDelayMs: 200,
      baseDelayMs: 5_000,
      factor: 2,
      maxDelayMs: 600_000,
      maxAttempts: 8,
      concurrency: 4,
      reconcileMs: 60_000,
      maxDeliveryCount: 10,
    });
    expect(config.redis.auth).toBe('none');
  });

  it('refuses an attempt budget that does not fit under the max delivery count', () => {
    expect(() => loadConfig({ ...minimal, RETRY_MAX_ATTEMPTS: '10' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...minimal, RETRY_MAX_ATTEMPTS: '10' })).toThrow(
      /RETRY_MAX_ATTEMPTS: must be below SERVICEBUS_MAX_DELIVERY_COUNT \(10\)/,
    );
    expect(
      loadConfig({ ...minimal, RETRY_MAX_ATTEMPTS: '10', SERVICEBUS_MAX_DELIVERY_COUNT: '20' }).retry
        .maxAttempts,
    ).toBe(10);
  });

  it('names REDIS_AUTH when it is neither none nor entra', () => {
    expect(() => loadConfig({ ...minimal, REDIS_AUTH: 'password' })).toThrow(
      /REDIS_AUTH: expected one of none, entra/,
    );
  });
});
