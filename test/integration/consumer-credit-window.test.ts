import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { orderPlacedType } from '../../src/handlers/orders/schema.ts';
import { exampleData } from '../../src/handlers/orders/schema-examples.ts';
import { createBatcher } from '../../src/pipeline/batcher.ts';
import type { Outcome } from '../../src/pipeline/outcome.ts';
import { publishEvents } from '../../src/servicebus/publisher.ts';
import { generatePublishItems } from '../../src/servicebus/sample-messages.ts';
import { type ConsumerStandIns, startConsumerStandIns, until } from './consumer-stand-ins.ts';

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

describe('a credit window wider than a batch', () => {
  it('keeps the lock of every held message while its batch waits longer than the lock duration', async () => {
    const lockDurationMs = 1_500;
    const q = env.queue({ lockDurationMs });
    const count = 300;
    const sender = env.client(env.publisher).createSender(q);
    const items = generatePublishItems({
      count,
      types: [orderPlacedType],
      dataFor: (type, n) => exampleData.get(type)?.(n),
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
