import type { ServiceBusMessage, ServiceBusMessageBatch } from '@azure/service-bus';
import { describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../src/cloudevents/cloud-event.ts';
import { generatePublishItems } from '../../src/cloudevents/sample-events.ts';
import { type BatchSender, type PublishProgress, publishEvents } from '../../src/servicebus/publisher.ts';
import { parcelRegisteredType, parcelStatusChangedType, parcels } from '../fixtures/parcels/events.ts';

const sizeOf = (m: ServiceBusMessage) => (m.body as Buffer).length + 100;

/** A sender whose batches hold `maxBytes`, counting each message as its body plus 100 bytes. */
function fakeSender(maxBytes: number, failSends: number[] = []) {
  const sent: string[][] = [];
  let sends = 0;
  const sender: BatchSender = {
    async createMessageBatch() {
      const ids: string[] = [];
      let size = 0;
      const batch = {
        get count() {
          return ids.length;
        },
        maxSizeInBytes: maxBytes,
        get sizeInBytes() {
          return size;
        },
        tryAddMessage(m: ServiceBusMessage) {
          if (size + sizeOf(m) > maxBytes) return false;
          size += sizeOf(m);
          ids.push(String(m.messageId));
          return true;
        },
        ids,
      };
      return batch as unknown as ServiceBusMessageBatch;
    },
    async sendMessages(batch) {
      sends++;
      if (failSends.includes(sends)) throw Object.assign(new Error('busy'), { code: 'ServiceBusy' });
      sent.push([...(batch as unknown as { ids: string[] }).ids]);
    },
  };
  return { sender, sent };
}

const events = (n: number): CloudEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    specversion: '1.0',
    id: `e-${i}`,
    source: '/t',
    type: parcelStatusChangedType,
    data: { i },
  }));

describe('publishEvents', () => {
  it('fills each batch up to the size limit and sends every event once', async () => {
    const { sender, sent } = fakeSender(1_000);
    const progress: PublishProgress[] = [];
    const summary = await publishEvents(sender, events(20), { onProgress: (p) => progress.push(p) });
    expect(summary).toEqual({ sent: 20, failed: 0, batches: sent.length, failures: [] });
    expect(sent.length).toBeGreaterThan(1);
    expect(sent.flat()).toEqual(events(20).map((e) => e.id));
    expect(progress.at(-1)).toEqual({ sent: 20, failed: 0, batches: sent.length });
  });

  it('reads events lazily from an async iterable', async () => {
    const { sender } = fakeSender(100_000);
    async function* generate() {
      yield* events(3);
    }
    expect(await publishEvents(sender, generate())).toMatchObject({ sent: 3, batches: 1 });
  });

  it('counts a batch whose send failed and goes on with the next', async () => {
    const { sender, sent } = fakeSender(1_000, [1]);
    const summary = await publishEvents(sender, events(20));
    expect(summary.failed).toBe(20 - sent.flat().length);
    expect(summary.sent).toBe(sent.flat().length);
    expect(summary.failures).toHaveLength(1);
    expect(summary.failures[0]?.messageIds[0]).toBe('e-0');
  });

  it('fails a message too large for any batch and sends the others', async () => {
    const { sender } = fakeSender(1_000);
    const big: CloudEvent = { ...events(1)[0], id: 'big', data: 'x'.repeat(2_000) } as CloudEvent;
    const summary = await publishEvents(sender, [big, ...events(2)]);
    expect(summary).toMatchObject({ sent: 2, failed: 1, failures: [{ messageIds: ['big'] }] });
    expect(String(summary.failures[0]?.error)).toContain('maximum size of 1000 bytes');
  });

  it('sends raw messages as they are', async () => {
    const { sender, sent } = fakeSender(10_000);
    await publishEvents(sender, [{ raw: { messageId: 'raw-1', body: Buffer.from('not json') } }]);
    expect(sent).toEqual([['raw-1']]);
  });

  it('generates exactly the share of invalid messages asked for', () => {
    let broken = 0;
    const items = [
      ...generatePublishItems({
        count: 1_000,
        types: [parcelRegisteredType],
        dataFor: (t, n) => parcels.example(t, n),
        schemas: parcels.schemas,
        invalidShare: 0.05,
        onInvalid: () => broken++,
      }),
    ];
    expect(items).toHaveLength(1_000);
    expect(broken).toBe(50);
  });
});
