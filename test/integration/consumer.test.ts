import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ContentMode } from '../../src/cloudevents/envelope.ts';
import {
  expectedReason,
  generatePublishItems,
  type InvalidKind,
  sampleEvent,
} from '../../src/cloudevents/sample-events.ts';
import type { Outcome } from '../../src/pipeline/outcome.ts';
import { publishEvents } from '../../src/servicebus/publisher.ts';
import { parcelRegisteredType, parcelStatusChangedType, parcels } from '../fixtures/parcels/events.ts';
import { type ConsumerStandIns, manualBreaker, startConsumerStandIns, until } from './consumer-stand-ins.ts';

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

const dataFor = (type: string, n: number) => parcels.example(type, n);

/** Publishes `count` events (a share broken on purpose) as the publisher identity; returns what each broken one is. */
async function publish(entity: string, count: number, invalidShare = 0, mode: ContentMode = 'structured') {
  const broken = new Map<string, InvalidKind>();
  const sender = env.client(env.publisher).createSender(entity);
  const items = generatePublishItems({
    count,
    types: [parcelRegisteredType, parcelStatusChangedType],
    schemas: parcels.schemas,
    dataFor,
    invalidShare,
    mode,
    onInvalid: (id, kind) => broken.set(id, kind),
  });
  const summary = await publishEvents(sender, items, { mode });
  expect(summary).toMatchObject({ sent: count, failed: 0 });
  await sender.close();
  return broken;
}

const settledAll = (entity: string) => {
  const c = env.bus.counts(entity);
  return c.active + c.locked === 0;
};

/**
 * The broker records a settlement when the disposition arrives; the consumer counts it when the
 * broker's answer comes back. Waits for the answers, so that the consumer's counts can be compared.
 */
const answered = (consumer: { stats(): { inFlight: number } }) =>
  until(() => consumer.stats().inFlight === 0, 10_000, "the broker's answers to every settlement");

describe('consumer against the Service Bus stand-in', () => {
  it.each<ContentMode>(['structured', 'binary'])(
    'dead-letters each kind of invalid %s message with its reason and a description',
    async (mode) => {
      const q = env.queue();
      const broken = await publish(q, 10, 0.5, mode);
      expect(new Set(broken.values()).size).toBe(5);
      const consumer = env.consumer({ entity: { queue: q } });
      await consumer.start();
      await until(() => settledAll(q), 15_000, 'queue drained');
      const dead = env.bus.deadLetters(q);
      expect(dead).toHaveLength(5);
      for (const message of dead) {
        const kind = broken.get(message.messageId) ?? broken.get(message.messageId.replace(/-other$/, ''));
        expect(kind, `dead-lettered ${message.messageId}`).toBeDefined();
        expect(message.reason).toBe(expectedReason(kind as InvalidKind));
        expect(message.description).toMatch(/\S/);
      }
      const descriptions = Object.fromEntries(dead.map((d) => [d.reason, d.description]));
      expect(descriptions.ValidationFailed).toMatch(/data\.\w+/);
      expect(descriptions.UnknownType).toContain('.unknown');
      expect(env.bus.completedMessageIds(q)).toHaveLength(5);
      await answered(consumer);
      expect(consumer.stats()).toMatchObject({ completed: 5, deadLettered: 5, settleFailures: 0 });
    },
  );

  it('consumes a topic subscription', async () => {
    env.bus.createTopic('orders-topic');
    env.bus.createSubscription('orders-topic', 'worker');
    await publish('orders-topic', 20);
    const consumer = env.consumer({ entity: { topic: 'orders-topic', subscription: 'worker' } });
    await consumer.start();
    const path = 'orders-topic/Subscriptions/worker';
    await until(() => env.bus.completedMessageIds(path).length === 20, 15_000, '20 completed');
    expect(env.bus.counts(path)).toMatchObject({ active: 0, locked: 0, deadLettered: 0 });
  });

  it('on close abandons what did not finish within the grace period, so it is delivered again', async () => {
    const q = env.queue();
    const sender = env.client(env.publisher).createSender(q);
    const stuck = sampleEvent(parcelStatusChangedType, dataFor(parcelStatusChangedType, 1));
    await publishEvents(sender, [stuck]);
    let started = false;
    const consumer = env.consumer({
      entity: { queue: q },
      drainGraceMs: 300,
      handle: () => {
        started = true;
        return new Promise<Outcome>(() => {});
      },
    });
    await consumer.start();
    await until(() => started, 10_000, 'handle started');
    await consumer.close();
    expect(env.bus.counts(q)).toMatchObject({ active: 1, locked: 0 });
    expect(env.bus.messages(q)).toMatchObject([{ messageId: stuck.id, deliveryCount: 1 }]);
    expect(consumer.stats()).toMatchObject({ state: 'closed', abandoned: 1, inFlight: 0 });
  });

  it('loses and duplicates nothing it settles when the connection drops mid-stream', async () => {
    const q = env.queue({ lockDurationMs: 2_000 });
    await publish(q, 600);
    const handled = new Map<string, number>();
    const consumer = env.consumer({
      entity: { queue: q },
      concurrency: 16,
      handle: async (event) => {
        handled.set(event.id, (handled.get(event.id) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 2));
        return { kind: 'complete' };
      },
    });
    await consumer.start();
    await until(() => env.bus.completedMessageIds(q).length >= 150, 20_000, '150 completed');
    env.bus.dropConnections();
    await until(() => env.bus.completedMessageIds(q).length >= 600, 60_000, 'all 600 completed');
    await until(() => settledAll(q), 10_000, 'queue drained');
    const completed = env.bus.completedMessageIds(q);
    expect(new Set(completed).size).toBe(600);
    expect(completed).toHaveLength(600);
    expect(env.bus.counts(q)).toMatchObject({ deadLettered: 0, deferred: 0 });
    // Messages whose lock died with the connection come again; the SQL inbox absorbs that.
    expect(handled.size).toBe(600);
  }, 90_000);

  it('handles what is published after the connection dropped, without waiting for a lock to expire', async () => {
    const q = env.queue({ lockDurationMs: 30_000 });
    const consumer = env.consumer({ entity: { queue: q }, concurrency: 16 });
    await consumer.start();
    await publish(q, 10);
    await until(() => env.bus.completedMessageIds(q).length >= 10, 20_000, 'the first 10 completed');
    env.bus.dropConnections();
    const droppedAt = Date.now();
    await publish(q, 10);
    // Well inside the 30 s lock: a delivery to a link that died with the connection would wait for it.
    await until(() => env.bus.completedMessageIds(q).length >= 20, 25_000, 'the 10 sent after the drop');
    expect(Date.now() - droppedAt).toBeLessThan(25_000);
    expect(new Set(env.bus.completedMessageIds(q)).size).toBe(20);
    await answered(consumer);
    await consumer.close();
  }, 60_000);

  it('settles each of many messages decided in the same tick as its own outcome says', async () => {
    const q = env.queue({ lockDurationMs: 30_000 });
    await publish(q, 40);
    // Every message waits, then all are decided at once: completes, abandons and dead-letters side
    // by side, as a batch commit with a poison message or a transient failure decides them.
    const waiting: { id: string; done: (o: Outcome) => void }[] = [];
    const outcomeFor = (i: number): Outcome =>
      i % 3 === 0
        ? { kind: 'complete' }
        : i % 3 === 1
          ? { kind: 'deadLetter', reason: 'PermanentSqlError', description: `poison ${i}` }
          : { kind: 'abandon', error: new Error('transient') };
    const decided = new Map<string, Outcome>();
    const consumer = env.consumer({
      entity: { queue: q },
      concurrency: 64,
      handle: (event) =>
        decided.has(event.id)
          ? Promise.resolve({ kind: 'complete' })
          : new Promise<Outcome>((done) => {
              waiting.push({ id: event.id, done });
              if (waiting.length === 40)
                waiting.forEach((w, i) => {
                  decided.set(w.id, outcomeFor(i));
                  w.done(outcomeFor(i));
                });
            }),
    });
    await consumer.start();
    await until(() => decided.size === 40, 20_000, 'all 40 decided');
    await until(() => settledAll(q), 40_000, 'every message settled');
    const dead = env.bus.deadLetters(q);
    const expectedDead = [...decided].filter(([, o]) => o.kind === 'deadLetter');
    expect(dead.map((d) => `${d.messageId} ${d.description}`).sort()).toEqual(
      expectedDead.map(([id, o]) => `${id} ${(o as { description: string }).description}`).sort(),
    );
    // Abandoned ones came back and completed; none that was to be dead-lettered was completed.
    const completed = new Set(env.bus.completedMessageIds(q));
    expect(expectedDead.filter(([id]) => completed.has(id))).toEqual([]);
    expect(completed.size).toBe(40 - expectedDead.length);
    await answered(consumer);
    await consumer.close();
  }, 60_000);

  it('replaces a receiver that stopped receiving while messages wait', async () => {
    const q = env.queue();
    const consumer = env.consumer({
      entity: { queue: q },
      watchdog: { idleMs: 1_000, checkIntervalMs: 250 },
    });
    await consumer.start();
    await publish(q, 5);
    await until(() => env.bus.completedMessageIds(q).length === 5, 10_000, 'first 5 completed');

    env.bus.stallReceivers();
    await publish(q, 20);
    await until(
      () => env.bus.completedMessageIds(q).length === 25,
      20_000,
      'the 20 sent after the stall completed',
    );

    expect(consumer.stats().receiverRestarts).toBeGreaterThanOrEqual(1);
    expect(new Set(env.bus.completedMessageIds(q)).size).toBe(25);
  });

  it('completes each of 10,000 messages exactly once with concurrency 32', async () => {
    const q = env.queue();
    await publish(q, 10_000);
    const handled = new Map<string, number>();
    const consumer = env.consumer({
      entity: { queue: q },
      concurrency: 32,
      // As in production: a receive link that goes quiet while messages wait is replaced.
      watchdog: { idleMs: 3_000 },
      handle: async (event) => {
        handled.set(event.id, (handled.get(event.id) ?? 0) + 1);
        return { kind: 'complete' };
      },
    });
    await consumer.start();
    await until(() => env.bus.completedMessageIds(q).length >= 10_000, 150_000, '10,000 completed');
    await until(() => settledAll(q), 10_000, 'queue drained');
    const completed = env.bus.completedMessageIds(q);
    expect(completed).toHaveLength(10_000);
    expect(new Set(completed).size).toBe(10_000);
    expect(handled.size).toBe(10_000);
    expect([...handled.values()].every((n) => n === 1)).toBe(true);
    await answered(consumer);
    expect(consumer.stats()).toMatchObject({ received: 10_000, completed: 10_000, settleFailures: 0 });
    console.info(`10,000 messages: receiver restarts ${consumer.stats().receiverRestarts}`);
  }, 200_000);
});

describe('a consumer behind the write path breaker', () => {
  it('takes no new message while the breaker is open, keeps the ones it holds, and takes them all again once it closes', async () => {
    const q = env.queue({ lockDurationMs: 2_000 });
    const breaker = manualBreaker();
    const consumer = env.consumer({
      entity: { queue: q },
      concurrency: 4,
      breaker,
      // As the retry policy does while the breaker is open: the held message waits for it to close.
      handle: async () =>
        (await breaker.whenClosed(60_000)) ? { kind: 'complete' } : { kind: 'abandon', error: 'x' },
    });
    await consumer.start();
    breaker.record({ ok: false, transient: true, error: { message: 'down' } });
    await publish(q, 10);
    await until(() => consumer.stats().paused, 5_000, 'paused');
    // Held past two lock durations: renewed, still locked, not redelivered; the rest not received.
    await new Promise((r) => setTimeout(r, 4_500));
    const held = consumer.stats().received;
    expect(held).toBeLessThanOrEqual(4);
    expect(env.bus.counts(q)).toMatchObject({ active: 10 - held, locked: held });
    breaker.record({ ok: true });
    await until(() => settledAll(q), 15_000, 'all settled');
    await answered(consumer);
    expect(consumer.stats()).toMatchObject({ paused: false, received: 10, completed: 10, abandoned: 0 });
    expect(env.bus.completions(q).every((c) => c.deliveries === 1)).toBe(true);
    breaker.close();
  }, 40_000);
});
