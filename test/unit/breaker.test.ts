import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type BreakerOptions, createBreaker, type WriteResult } from '../../src/pipeline/breaker.ts';
import { capturingLogger } from './consumer-fakes.ts';

const unavailable: WriteResult = {
  ok: false,
  transient: true,
  error: { code: 'Unavailable', number: 40613, message: 'Database is not currently available.' },
};
const permanent: WriteResult = {
  ok: false,
  transient: false,
  error: { code: 'ConstraintViolation', number: 547, message: 'CHECK constraint' },
};

function setup(patch: Partial<BreakerOptions> = {}) {
  const { logger, lines } = capturingLogger();
  let down = true;
  const probes: number[] = [];
  const breaker = createBreaker({
    threshold: 3,
    probeMinMs: 1_000,
    probeMaxMs: 8_000,
    probe: async () => {
      probes.push(Date.now());
      if (down) throw new Error('40613');
    },
    logger,
    random: () => 1,
    ...patch,
  });
  const moves: string[] = [];
  breaker.onChange((to, from) => moves.push(`${from}→${to}`));
  return { breaker, lines, probes, moves, up: () => (down = false), down: () => (down = true) };
}

const trip = (breaker: ReturnType<typeof createBreaker>, n = 3) => {
  for (let i = 0; i < n; i++) breaker.record(unavailable);
};

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the write path breaker', () => {
  it('opens after the threshold of transient failures in a row, and not before', () => {
    const { breaker, moves } = setup();
    trip(breaker, 2);
    expect(breaker.state).toBe('closed');
    breaker.record(unavailable);
    expect(breaker.state).toBe('open');
    expect(moves).toEqual(['closed→open']);
    breaker.close();
  });

  it('never opens with a threshold of 0, and never keeps a message waiting for a verdict', () => {
    const { breaker } = setup({ threshold: 0 });
    trip(breaker, 5_000);
    expect(breaker.state).toBe('closed');
    expect(breaker.suspect).toBe(false);
    breaker.close();
  });

  it('is not tripped by a run broken by a write that went through, nor by permanent errors', () => {
    const { breaker } = setup();
    trip(breaker, 2);
    breaker.record({ ok: true });
    trip(breaker, 2);
    // A bad message, a constraint, a deployment fault: the database answered each of them.
    for (let i = 0; i < 10; i++) breaker.record(permanent);
    trip(breaker, 2);
    expect(breaker.state).toBe('closed');
    breaker.close();
  });

  it('probes once at a time, half-open, at growing jittered intervals up to the cap', async () => {
    const { breaker, probes, moves } = setup({ random: () => 0.5 });
    trip(breaker);
    // Equal jitter: the delay is between half the bound and the bound; the bound doubles per failure.
    for (const expected of [750, 1_500, 3_000, 6_000, 6_000]) {
      const before = probes.length;
      await vi.advanceTimersByTimeAsync(expected - 1);
      expect(probes).toHaveLength(before);
      await vi.advanceTimersByTimeAsync(1);
      expect(probes).toHaveLength(before + 1);
    }
    expect(breaker.stats()).toMatchObject({ state: 'open', probesFailed: 5 });
    expect(moves.slice(0, 3)).toEqual(['closed→open', 'open→half-open', 'half-open→open']);
    breaker.close();
  });

  it('keeps probing slowly when the database fails again soon after it closed, and starts over after a calm spell', async () => {
    const { breaker, probes, up, down } = setup();
    trip(breaker);
    await vi.advanceTimersByTimeAsync(1_000 + 2_000 + 4_000); // three probes failed: the bound is 8 s
    up();
    await vi.advanceTimersByTimeAsync(8_000);
    expect(breaker.state).toBe('closed');
    // Fails again 1 s after closing: the next probe waits the grown bound, not 1 s.
    down();
    await vi.advanceTimersByTimeAsync(1_000);
    trip(breaker);
    const reopenedAt = Date.now();
    await vi.advanceTimersByTimeAsync(8_000);
    expect(probes.at(-1)).toBe(reopenedAt + 8_000);
    // After a calm spell longer than the cap, an outage is probed from 1 s again.
    up();
    await vi.advanceTimersByTimeAsync(8_000);
    expect(breaker.state).toBe('closed');
    await vi.advanceTimersByTimeAsync(60_000);
    down();
    trip(breaker);
    const laterAt = Date.now();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(probes.at(-1)).toBe(laterAt + 1_000);
    breaker.close();
  });

  it('says nothing of a probe that answers after the worker closed it', async () => {
    let answer: () => void = () => {};
    const { breaker, lines, moves } = setup({
      probe: () =>
        new Promise<void>((resolve) => {
          answer = resolve;
        }),
    });
    trip(breaker);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(breaker.state).toBe('half-open');
    breaker.close();
    answer();
    await vi.advanceTimersByTimeAsync(0);
    expect(lines.map((l) => l.msg)).not.toContain('database available again: intake resumed');
    expect(moves.at(-1)).toBe('open→half-open');
  });

  it('spreads the probes of replicas by their jitter', async () => {
    const a = setup({ random: () => 0 });
    const b = setup({ random: () => 0.99 });
    trip(a.breaker);
    trip(b.breaker);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(a.probes).toEqual([500]);
    expect(b.probes).toEqual([995]);
    a.breaker.close();
    b.breaker.close();
  });

  it('closes on the first successful probe and releases every held message', async () => {
    const { breaker, up, moves, lines } = setup();
    trip(breaker);
    const held = [breaker.whenClosed(60_000), breaker.whenClosed(60_000)];
    await vi.advanceTimersByTimeAsync(1_000);
    expect(breaker.state).toBe('open');
    up();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await Promise.all(held)).toEqual([true, true]);
    expect(breaker.state).toBe('closed');
    expect(moves.at(-1)).toBe('half-open→closed');
    expect(lines.find((l) => l.msg === 'database available again: intake resumed')).toMatchObject({
      level: 30,
      held: 2,
      probesFailed: 1,
    });
    breaker.close();
  });

  it('closes at once when a write goes through while it is open', () => {
    const { breaker } = setup();
    trip(breaker);
    breaker.record({ ok: true });
    expect(breaker.state).toBe('closed');
    breaker.close();
  });

  it('logs one warning when it opens, a summary every 30 s, and one line when it closes', async () => {
    const { breaker, up, lines } = setup({ probeMinMs: 20_000, probeMaxMs: 20_000 });
    trip(breaker);
    for (let i = 0; i < 50; i++) breaker.record(unavailable);
    await vi.advanceTimersByTimeAsync(65_000);
    up();
    await vi.advanceTimersByTimeAsync(20_000);
    const lifecycle = lines.filter((l) => Number(l.level) >= 30);
    expect(lifecycle.map((l) => [l.level, l.msg])).toEqual([
      [40, 'database unavailable: intake paused'],
      [40, 'database still unavailable'],
      [40, 'database still unavailable'],
      [30, 'database available again: intake resumed'],
    ]);
    expect(lifecycle[0]).toMatchObject({
      code: 'Unavailable',
      number: 40613,
      error: 'Database is not currently available.',
    });
    expect(lifecycle[1]).toMatchObject({ openForMs: 30_000, probesFailed: 1 });
    expect(lifecycle[3]?.openForMs).toBeGreaterThanOrEqual(80_000);
    breaker.close();
  });

  it('lets a held message go when its bound or its signal ends first, leaving no waiter', async () => {
    const { breaker } = setup();
    trip(breaker);
    const bounded = breaker.whenClosed(5_000);
    const abort = new AbortController();
    const aborted = breaker.whenClosed(60_000, abort.signal);
    expect(breaker.stats().held).toBe(2);
    abort.abort();
    expect(await aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await bounded).toBe(false);
    expect(breaker.stats().held).toBe(0);
    expect(vi.getTimerCount()).toBeLessThanOrEqual(2); // the probe and the summary, nothing per message
    breaker.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});
