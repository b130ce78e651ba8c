import { getEventListeners } from 'node:events';
import { promiseHooks } from 'node:v8';
import type { ServiceBusSender } from '@azure/service-bus';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generatePublishItems } from '../../src/cloudevents/sample-events.ts';
import { type Batcher, createBatcher } from '../../src/pipeline/batcher.ts';
import { waitingOn } from '../../src/pipeline/decide.ts';
import type { Outcome } from '../../src/pipeline/outcome.ts';
import type { Consumer } from '../../src/servicebus/consumer.ts';
import { publishEvents } from '../../src/servicebus/publisher.ts';
import { parcelRegisteredType, parcels } from '../fixtures/parcels/events.ts';
import { type ConsumerStandIns, manualBreaker, startConsumerStandIns, until } from './consumer-stand-ins.ts';

// Counting, not timing: whatever one message leaves behind shows up thousands of times over.
const warmUp = 2_000;
const measured = 18_000;

let env: ConsumerStandIns;
beforeAll(async () => {
  env = await startConsumerStandIns();
});
afterEach(async () => {
  await env.cleanup();
});
afterAll(async () => {
  await env?.close();
});

/** Promises created and not yet settled, process-wide (SDK, rhea and the worker's own). */
let pendingPromises = 0;
const stopCounting = promiseHooks.createHook({
  init: () => {
    pendingPromises++;
  },
  settled: () => {
    pendingPromises--;
  },
});
afterAll(() => stopCounting());

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

// One publisher connection for both rounds: each connection has heartbeat timers of its own.
async function publish(sender: ServiceBusSender, count: number): Promise<void> {
  const items = generatePublishItems({
    count,
    types: [parcelRegisteredType],
    dataFor: (type, n) => parcels.example(type, n),
    invalidShare: 0,
    mode: 'structured',
  });
  const summary = await publishEvents(sender, items);
  expect(summary).toMatchObject({ sent: count, failed: 0 });
}

describe('per-message residue', () => {
  it('leaves listeners, timers, held messages and pending promises at their baseline after 20,000 messages', async () => {
    const q = env.queue({ lockDurationMs: 30_000 });
    let drainSignal: AbortSignal | undefined;
    let written = 0;
    const batcher: Batcher = createBatcher({
      maxBatchSize: 100,
      flushMs: 5,
      write: async (events) => {
        written += events.length;
        return new Map<string, Outcome>(events.map((e) => [e.id, { kind: 'complete' }]));
      },
    });
    const consumer: Consumer = env.consumer({
      entity: { queue: q },
      concurrency: 256,
      // Lock renewal on, as in production: its per-message timers must go when a message is settled.
      lockRenewalMaxMs: 300_000,
      handle: (event, ctx) => {
        drainSignal = ctx.signal;
        return batcher.submit(event);
      },
    });

    const drain = async (total: number) => {
      await until(() => env.bus.completedMessageIds(q).length >= total, 120_000, `${total} completed`);
      await until(() => consumer.stats().inFlight === 0, 10_000, 'every settlement answered');
      // Let timers of the last settlements (SDK disposition timeouts, batch flush) run out or be cleared.
      await new Promise((r) => setTimeout(r, 200));
    };
    const snapshot = () => ({
      abortListeners: getEventListeners(drainSignal as AbortSignal, 'abort').length,
      abortWaiters: waitingOn(drainSignal as AbortSignal),
      timers: timers(),
      inFlight: consumer.stats().inFlight,
      ...batcher.stats(),
      pendingPromises,
    });

    const sender = env.client(env.publisher).createSender(q);
    await publish(sender, warmUp);
    await consumer.start();
    await drain(warmUp);
    const baseline = snapshot();

    await publish(sender, measured);
    await drain(warmUp + measured);
    const after = snapshot();
    console.info(
      `leak guard: baseline ${JSON.stringify(baseline)}, after ${measured} more ${JSON.stringify(after)}`,
    );

    expect(written).toBe(warmUp + measured);
    expect(consumer.stats()).toMatchObject({ received: warmUp + measured, completed: warmUp + measured });
    // One listener for the consumer's lifetime, none per message.
    expect(after.abortListeners).toBeLessThanOrEqual(1);
    expect(after.abortWaiters).toBe(0);
    expect(after).toMatchObject({ inFlight: 0, queued: 0, writing: 0, waitingForRoom: 0 });
    expect(after.timers).toBeLessThanOrEqual(baseline.timers);
    // A residue of one promise per message would be 18,000; connection-level work may differ by a few.
    expect(after.pendingPromises - baseline.pendingPromises).toBeLessThan(50);
    await sender.close();
    await consumer.close();
    await batcher.close();
  }, 240_000);
});

describe('residue of outages', () => {
  it('leaves listeners, timers, held waiters and pending promises at their baseline after 40 outages', async () => {
    // An outage of hours can flap: every open pauses the subscription, every close subscribes again
    // on the same receiver. What one flap leaves behind (a subscription's listeners, a waiter on the
    // breaker, a renewal timer) must not add up over the weeks a replica runs.
    const q = env.queue({ lockDurationMs: 30_000 });
    // Opened and closed by this test's records only, as write results would.
    const breaker = manualBreaker();
    let drainSignal: AbortSignal | undefined;
    const deliveries = new Map<string, number>();
    const consumer = env.consumer({
      entity: { queue: q },
      concurrency: 16,
      lockRenewalMaxMs: 300_000,
      breaker,
      // As the retry policy does while the breaker is open: a held message waits for it to close.
      handle: async (event, ctx) => {
        drainSignal = ctx.signal;
        deliveries.set(event.id, (deliveries.get(event.id) ?? 0) + 1);
        return (await breaker.whenClosed(60_000, ctx.signal))
          ? { kind: 'complete' }
          : { kind: 'abandon', error: new Error('not closed in time') };
      },
    });
    // Node warns when an emitter gathers more listeners than it expects: a listener added per flap.
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    // rhea reports a transfer past the credit it granted on the console: a resume racing the pause's
    // drain, which can leave the link with no credit at all.
    const consoleError = console.error;
    const creditErrors: string[] = [];
    console.error = (...args: unknown[]) => {
      if (String(args[0]).includes('credit')) creditErrors.push(args.map(String).join(' '));
      else consoleError(...args);
    };

    const sender = env.client(env.publisher).createSender(q);
    let published = 0;
    const flap = async () => {
      // Some arrive before it opens and are held; the rest arrive while the subscription is stopped.
      await publish(sender, 10);
      breaker.record({ ok: false, transient: true, error: { message: 'down' } });
      await until(() => consumer.stats().paused, 5_000, 'paused');
      await publish(sender, 10);
      published += 20;
      await new Promise((r) => setTimeout(r, 20));
      breaker.record({ ok: true });
      await until(() => env.bus.completedMessageIds(q).length >= published, 15_000, `${published} completed`);
      await until(() => consumer.stats().inFlight === 0, 10_000, 'every settlement answered');
    };
    const snapshot = () => ({
      abortListeners: getEventListeners(drainSignal as AbortSignal, 'abort').length,
      abortWaiters: waitingOn(drainSignal as AbortSignal),
      timers: timers(),
      resources: process.getActiveResourcesInfo().length,
      held: breaker.stats().held,
      inFlight: consumer.stats().inFlight,
      pendingPromises,
    });

    await consumer.start();
    for (let i = 0; i < 2; i++) await flap();
    await new Promise((r) => setTimeout(r, 200));
    const baseline = snapshot();
    for (let i = 0; i < 40; i++) await flap();
    await new Promise((r) => setTimeout(r, 200));
    const after = snapshot();
    process.off('warning', onWarning);
    console.error = consoleError;
    console.info(
      `outage residue: baseline ${JSON.stringify(baseline)}, after 40 more ${JSON.stringify(after)}`,
    );

    expect(breaker.stats().transitions).toMatchObject({ open: 42, closed: 42 });
    expect(consumer.stats()).toMatchObject({ received: published, completed: published, abandoned: 0 });
    // Paused, not burned: every message was delivered once.
    expect(deliveries.size).toBe(published);
    expect([...deliveries.values()].every((n) => n === 1)).toBe(true);
    expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
    expect(creditErrors.slice(0, 3), `${creditErrors.length} transfers past the credit`).toEqual([]);
    expect(after.abortListeners).toBeLessThanOrEqual(1);
    expect(after).toMatchObject({ abortWaiters: 0, held: 0, inFlight: 0 });
    expect(after.timers).toBeLessThanOrEqual(baseline.timers);
    expect(after.resources).toBeLessThanOrEqual(baseline.resources);
    // A residue of one promise per flap and message would be 800; the connection's own work differs by a few.
    expect(after.pendingPromises - baseline.pendingPromises).toBeLessThan(20);
    await sender.close();
    await consumer.close();
    breaker.close();
  }, 120_000);
});

describe('a credit window wider than a batch', () => {
  it('keeps the lock of every held message while its batch waits longer than the lock duration', async () => {
    const lockDurationMs = 1_500;
    const q = env.queue({ lockDurationMs });
    const count = 300;
    const sender = env.client(env.publisher).createSender(q);
    const items = generatePublishItems({
      count,
      types: [parcelRegisteredType],
      dataFor: (type, n) => parcels.example(type, n),
    });
    expect(await publishEvents(sender, items)).toMatchObject({ sent: count, failed: 0 });
    await sender.close();

    // Every write waits until all 300 are held: messages sit locked for about three lock durations.
    let release: () => void = () => {};
    const released = new Promise<void>((r) => {
      release = r;
    });
    const handled = new Map<string, number>();
    const batches: number[] = [];
    const batcher = createBatcher({
      maxBatchSize: 100,
      write: async (events) => {
        await released;
        batches.push(events.length);
        return new Map<string, Outcome>(events.map((e) => [e.id, { kind: 'complete' }]));
      },
    });
    const consumer = env.consumer({
      entity: { queue: q },
      concurrency: 256,
      lockRenewalMaxMs: 60_000,
      handle: (event) => {
        handled.set(event.id, (handled.get(event.id) ?? 0) + 1);
        return batcher.submit(event);
      },
    });
    await consumer.start();
    await until(() => consumer.stats().inFlight === 256, 15_000, 'the credit window full');
    await new Promise((r) => setTimeout(r, 3 * lockDurationMs));
    // Renewed, not expired: the broker still counts all of them locked and delivered none again.
    expect(env.bus.counts(q)).toMatchObject({ locked: 256 });
    release();
    await until(() => env.bus.completedMessageIds(q).length === count, 20_000, 'all completed');
    await until(() => consumer.stats().inFlight === 0, 10_000, 'every settlement answered');
    expect(new Set(env.bus.completedMessageIds(q)).size).toBe(count);
    expect([...handled.values()].every((n) => n === 1)).toBe(true);
    expect(consumer.stats()).toMatchObject({ received: count, completed: count, settleFailures: 0 });
    // Batches fill: the held messages are written 100 at a time, not a credit window's worth of small ones.
    expect(Math.max(...batches)).toBe(100);
    await batcher.close();
  }, 60_000);
});
