import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { createBreaker } from '../../src/pipeline/breaker.ts';
import type { Outcome } from '../../src/pipeline/outcome.ts';
import { delayBoundMs, jitteredDelayMs } from '../../src/retry/backoff.ts';
import type { RetryJobData } from '../../src/retry/job.ts';
import { createRetryPolicy, type RetryPolicyOptions, retryProperties } from '../../src/retry/retry-policy.ts';
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
  gate?: RetryPolicyOptions['gate'];
  holdMaxMs?: number;
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
    gate: options.gate,
    ...(options.holdMaxMs !== undefined ? { holdMaxMs: options.holdMaxMs } : {}),
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
      concurrency: 64,
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

  describe('with the write path breaker', () => {
    const breakerOver = (threshold = 1) => {
      const breaker = createBreaker({
        threshold,
        probeMinMs: 60_000,
        probeMaxMs: 60_000,
        probe: async () => {},
        logger: log,
      });
      return breaker;
    };

    it('holds a message while the database is known to be down, spending no attempt, and writes it once it is back', async () => {
      const breaker = breakerOver();
      const { policy, added } = policyWith({ gate: breaker });
      let calls = 0;
      const write = async (): Promise<Outcome> => {
        calls++;
        if (calls === 1) {
          breaker.record({ ok: false, transient: true, error: { code: 'Unavailable', message: 'down' } });
          return transient;
        }
        return { kind: 'complete' };
      };
      const outcome = policy.run(write, message(), log);
      await new Promise((r) => setTimeout(r, 50));
      // Held: no immediate retry against a database known to be down, no job, no defer.
      expect(calls).toBe(1);
      expect(breaker.stats().held).toBe(1);
      breaker.record({ ok: true });
      expect(await outcome).toEqual({ kind: 'complete' });
      expect(calls).toBe(2);
      expect(added).toEqual([]);
      breaker.close();
    });

    it('defers a message held past the bound, as the retry tier would, and counts it', async () => {
      const breaker = breakerOver();
      breaker.record({ ok: false, transient: true, error: { code: 'Unavailable', message: 'down' } });
      const { policy, added } = policyWith({ gate: breaker, holdMaxMs: 30 });
      const outcome = await policy.run(writes(transient).write, message(), log);
      expect(outcome).toMatchObject({ kind: 'defer' });
      expect(added.map((a) => a.data.attempt)).toEqual([1]);
      expect(breaker.stats().deferred).toBe(1);
      breaker.close();
    });

    it('never ends the budget of a message held through an outage: its last attempt is not the outage’s', async () => {
      const breaker = breakerOver();
      breaker.record({ ok: false, transient: true, error: { code: 'Unavailable', message: 'down' } });
      const { policy, added } = policyWith({ gate: breaker, holdMaxMs: 30, maxAttempts: 8 });
      // On its last delayed attempt when the database went down, and held past the bound.
      const outcome = await policy.run(writes(transient).write, message({ RetryAttempt: 8 }, 8), log);
      expect(outcome).toMatchObject({ kind: 'defer', properties: { RetryAttempt: 9 } });
      expect(added.map((a) => a.data.attempt)).toEqual([9]);
      // The same failure with the database answering other writes ends it.
      breaker.record({ ok: true });
      const after = await policy.run(
        writes(transient, transient, transient).write,
        message({ RetryAttempt: 9 }, 9),
        log,
      );
      expect(after).toMatchObject({ kind: 'deadLetter', reason: 'RetriesExhausted' });
      breaker.close();
    });

    it('adds no job for a held message that shutdown abandons, and defers the ones it releases', async () => {
      const breaker = breakerOver();
      breaker.record({ ok: false, transient: true, error: { code: 'Unavailable', message: 'down' } });
      const { policy, added } = policyWith({ gate: breaker });
      const abort = new AbortController();
      const abandoned = policy.run(writes(transient).write, message(), log, abort.signal);
      const released = policy.run(writes(transient).write, message(), log);
      await new Promise((r) => setTimeout(r, 20));
      expect(breaker.stats().held).toBe(2);
      abort.abort();
      expect(await abandoned).toMatchObject({ kind: 'abandon' });
      expect(added).toEqual([]);
      // The worker's first close step: the held messages go the retry tier's way while Redis is up.
      breaker.close();
      expect(await released).toMatchObject({ kind: 'defer' });
      expect(added).toHaveLength(1);
    });

    it('waits for the verdict on a run of failures before deferring: held once it opens, no attempt spent', async () => {
      const breaker = breakerOver(5);
      const down = { ok: false, transient: true, error: { code: 'Unavailable', message: 'down' } } as const;
      const { policy, added } = policyWith({ gate: breaker });
      let calls = 0;
      const write = async (): Promise<Outcome> => {
        calls++;
        if (calls <= 3) {
          breaker.record(down);
          return transient;
        }
        return { kind: 'complete' };
      };
      const outcome = policy.run(write, message(), log);
      await new Promise((r) => setTimeout(r, 50));
      // Its three writes failed, the breaker counts 3 of 5: undecided, the message waits.
      expect(calls).toBe(3);
      breaker.record(down);
      breaker.record(down);
      expect(breaker.state).toBe('open');
      await new Promise((r) => setTimeout(r, 20));
      expect(breaker.stats().held).toBe(1);
      breaker.record({ ok: true });
      expect(await outcome).toEqual({ kind: 'complete' });
      expect(added).toEqual([]);
      breaker.close();
    });

    it('defers as usual when the other writes go through: the failure is this message’s', async () => {
      const breaker = breakerOver(5);
      const { policy, added } = policyWith({ gate: breaker });
      const write = async (): Promise<Outcome> => {
        breaker.record({ ok: false, transient: true, error: { code: 'Deadlock', message: 'victim' } });
        setTimeout(() => breaker.record({ ok: true }), 20);
        return transient;
      };
      expect(await policy.run(write, message(), log)).toMatchObject({ kind: 'defer' });
      expect(added).toHaveLength(1);
      breaker.close();
    });

    it('retries at once as usual while it is closed', async () => {
      const breaker = breakerOver(5);
      const { policy } = policyWith({ gate: breaker });
      const w = writes(transient, transient);
      expect(await policy.run(w.write, message(), log)).toEqual({ kind: 'complete' });
      expect(w.calls()).toBe(3);
      breaker.close();
    });
  });
});
