import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cloudEventReceiverOptions, parseCloudEvent } from '../../src/cloudevents/envelope.ts';
import { parcelStatusChangedType, parcels } from '../fixtures/parcels/events.ts';
import { foreignBinary } from '../helpers/foreign-messages.ts';
import { type ServiceBusTarget, startServiceBusTarget, targetName } from '../helpers/targets.ts';

// What the broker hands back of each AMQP type the CloudEvents binding maps, sent as a foreign
// publisher sends them (raw sendMessages), received with the worker's receiver options.
let target: ServiceBusTarget;

beforeAll(async () => {
  target = await startServiceBusTarget();
});
afterEach(async () => {
  await target.cleanup();
});
afterAll(async () => {
  await target?.close();
});

const { schemas } = parcels;

describe(`AMQP attribute types through the broker (${targetName()})`, () => {
  it('keeps a timestamp a Date, an integer a number, a boolean and binary as sent, and the worker reads the event', async () => {
    const q = target.queue();
    const client = target.client();
    const id = randomUUID();
    const time = new Date('2025-03-01T10:15:00.123Z');
    const data = { parcelId: randomUUID(), status: 'delivered', version: 3 };
    const sender = client.createSender(q);
    await sender.sendMessages(
      foreignBinary(id, parcelStatusChangedType, data, {
        'cloudEvents:time': time,
        'cloudEvents:flag': true,
        'cloudEvents:count': 42,
        'cloudEvents:blob': Buffer.from([0, 1, 255]),
      }),
    );
    await sender.close();

    const receiver = client.createReceiver(q, { receiveMode: 'peekLock', ...cloudEventReceiverOptions });
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 10_000 });
    if (!message) expect.fail('nothing received');
    const props = message.applicationProperties ?? {};
    expect(props['cloudEvents:time']).toEqual(time);
    expect(props['cloudEvents:flag']).toBe(true);
    expect(props['cloudEvents:count']).toBe(42);
    expect(Buffer.from(props['cloudEvents:blob'] as unknown as Uint8Array)).toEqual(Buffer.from([0, 1, 255]));
    expect(parseCloudEvent(message, schemas)).toMatchObject({
      ok: true,
      mode: 'binary',
      event: { id, time: time.toISOString(), data },
    });
    await receiver.completeMessage(message);
    await receiver.close();
  });
});
