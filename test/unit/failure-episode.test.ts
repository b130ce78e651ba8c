import { describe, expect, it } from 'vitest';
import { createFailureEpisode } from '../../src/failure-episode.ts';
import { createRetryPolicy } from '../../src/retry/retry-policy.ts';
import { capturingLogger } from './consumer-fakes.ts';

const lines = { started: 'down', ongoing: 'still down', ended: 'back' };

describe('a repeating failure', () => {
  it('is one line when it starts, a summary per period while it lasts and one line when it ends', () => {
    const { logger, lines: logged } = capturingLogger();
    let t = 0;
    const episode = createFailureEpisode(logger, lines, { summaryMs: 30_000, now: () => t });
    episode.succeeded(); // nothing to end
    for (; t < 95_000; t += 100) episode.failed(new Error('ECONNREFUSED'), { attempt: 1 });
    episode.succeeded();
    episode.succeeded();
    expect(logged.map((l) => [l.level, l.msg])).toEqual([
      [40, 'down'],
      [40, 'still down'],
      [40, 'still down'],
      [40, 'still down'],
      [30, 'back'],
    ]);
    expect(logged[0]).toMatchObject({
      attempt: 1,
      err: expect.objectContaining({ message: 'ECONNREFUSED' }),
    });
    expect(logged[1]).toMatchObject({
      forMs: 30_000,
      failures: 301,
      sinceLastLine: 300,
      error: 'ECONNREFUSED',
    });
    expect(logged[4]).toMatchObject({ failures: 950 });
    // A new episode starts with its own first line.
    episode.failed(new Error('again'));
    expect(logged.at(-1)).toMatchObject({ level: 40, msg: 'down' });
  });

  it('keeps a retry policy to one warning for a Redis that refuses every job, and says when it takes them again', async () => {
    const { logger, lines: logged } = capturingLogger();
    let redisUp = false;
    const policy = createRetryPolicy({
      baseDelayMs: 1,
      factor: 2,
      maxDelayMs: 10,
      entity: 'orders',
      queue: {
        add: async () => {
          if (!redisUp) throw new Error('Connection is closed.');
          return 'added';
        },
      },
      immediateAttempts: 0,
      immediateDelayMs: 1,
      maxAttempts: 8,
      logger,
    });
    const failing = async () => ({ kind: 'abandon', error: new Error('40613'), retryable: true }) as const;
    const message = (n: number) =>
      ({ messageId: `m-${n}`, sequenceNumber: { toString: () => String(n) }, deliveryCount: 1 }) as never;
    for (let n = 0; n < 50; n++) {
      expect(await policy.run(failing, message(n), logger)).toMatchObject({ kind: 'abandon' });
    }
    redisUp = true;
    expect(await policy.run(failing, message(50), logger)).toMatchObject({ kind: 'defer' });
    expect(logged.filter((l) => Number(l.level) >= 30).map((l) => l.msg)).toEqual([
      'Redis did not take the retry job; abandoning, Service Bus delivers the message again',
      'Redis takes retry jobs again',
    ]);
  });
});
