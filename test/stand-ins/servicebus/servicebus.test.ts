import { randomUUID } from 'node:crypto';
import { ManagedIdentityCredential } from '@azure/identity';
import { ServiceBusClient, type ServiceBusReceivedMessage } from '@azure/service-bus';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLocalCa } from '../ca.ts';
import { type IdentityStandIn, startIdentityStandIn, type UserAssignedIdentity } from '../identity.ts';
import { trustCertificateAuthority } from '../tls-trust.ts';
import { type ServiceBusStandIn, startServiceBusStandIn } from './index.ts';

let identity: IdentityStandIn;
let bus: ServiceBusStandIn;
let owner: UserAssignedIdentity;
let senderOnly: UserAssignedIdentity;
let reader: UserAssignedIdentity;
const clients: ServiceBusClient[] = [];

const client = (who: UserAssignedIdentity = owner): ServiceBusClient => {
  const c = new ServiceBusClient(
    bus.fullyQualifiedNamespace,
    new ManagedIdentityCredential({ clientId: who.clientId }),
    { retryOptions: { maxRetries: 2, retryDelayInMs: 200, timeoutInMs: 10_000 } },
  );
  clients.push(c);
  return c;
};

const queue = (options?: Parameters<ServiceBusStandIn['createQueue']>[1]): string => {
  const name = `q-${randomUUID().slice(0, 8)}`;
  bus.createQueue(name, options);
  return name;
};

const until = async (check: () => boolean, timeoutMs = 15_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
};

type CodedError = { code?: string; message: string };

/** The first Service Bus error inside what the SDK threw (it wraps retried attempts in AggregateError). */
const serviceBusCause = (error: unknown): CodedError | undefined => {
  if (error instanceof AggregateError) {
    for (const inner of error.errors) {
      const found = serviceBusCause(inner);
      if (found) return found;
    }
    return error.cause === undefined ? undefined : serviceBusCause(error.cause);
  }
  return (error as CodedError | undefined)?.code ? (error as CodedError) : undefined;
};

const failure = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => undefined,
    (e: unknown) => e,
  );

beforeAll(async () => {
  const ca = createLocalCa();
  trustCertificateAuthority(ca.certPem);
  identity = await startIdentityStandIn();
  // The identity source is fixed at the process's first getToken: set it before any client exists.
  process.env.IDENTITY_ENDPOINT = identity.endpoint;
  process.env.IDENTITY_HEADER = identity.header;
  delete process.env.AZURE_FEDERATED_TOKEN_FILE;
  const namespaceResourceId = identity.resourceId('Microsoft.ServiceBus/namespaces', 'keyless-local');
  owner = identity.addIdentity('worker');
  identity.assignRole(owner.objectId, 'Azure Service Bus Data Owner', namespaceResourceId);
  senderOnly = identity.addIdentity('publisher');
  identity.assignRole(senderOnly.objectId, 'Azure Service Bus Data Sender', namespaceResourceId);
  reader = identity.addIdentity('reader');
  identity.assignRole(reader.objectId, 'Azure Service Bus Data Receiver', `${namespaceResourceId}/queues`);
  bus = await startServiceBusStandIn({ authority: identity, ca, namespaceResourceId });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  bus.setSettlementLatency(0);
  bus.failSettlements(0, 'lock-lost');
  await until(() => bus.openConnections() === 0, 5_000);
});

afterAll(async () => {
  await bus?.close();
  await identity?.close();
});

describe('Service Bus stand-in', () => {
  it('delivers a sent message to a peek-lock receiver and removes it on complete', async () => {
    const q = queue();
    const c = client();
    await c.createSender(q).sendMessages({ body: { hello: 'world' }, messageId: 'm-1' });
    const receiver = c.createReceiver(q);
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(message?.body).toEqual({ hello: 'world' });
    expect(message?.messageId).toBe('m-1');
    expect(message?.deliveryCount).toBe(0);
    expect(message?.lockedUntilUtc?.getTime()).toBeGreaterThan(Date.now());
    await receiver.completeMessage(message as ServiceBusReceivedMessage);
    expect(bus.counts(q)).toEqual({ active: 0, locked: 0, deferred: 0, scheduled: 0, deadLettered: 0 });
  });
  it('redelivers a message whose lock expired, counting the failed delivery', async () => {
    const q = queue({ lockDurationMs: 1_000 });
    const c = client();
    await c.createSender(q).sendMessages({ body: 'again', messageId: 'lock-1' });
    const receiver = c.createReceiver(q, { maxAutoLockRenewalDurationInMs: 0 });
    const [first] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(first?.deliveryCount).toBe(0);
    await new Promise((r) => setTimeout(r, 1_300));
    const [second] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(second?.messageId).toBe('lock-1');
    expect(second?.deliveryCount).toBe(1);
    await expect(receiver.completeMessage(first as ServiceBusReceivedMessage)).rejects.toMatchObject({
      code: 'MessageLockLost',
    });
    await receiver.completeMessage(second as ServiceBusReceivedMessage);
    expect(bus.counts(q).active + bus.counts(q).locked).toBe(0);
  });

  it('dead-letters a message abandoned maxDeliveryCount times with MaxDeliveryCountExceeded', async () => {
    const q = queue({ maxDeliveryCount: 3 });
    const c = client();
    await c.createSender(q).sendMessages({ body: 'poison', messageId: 'poison-1' });
    const receiver = c.createReceiver(q);
    for (let i = 0; i < 3; i++) {
      const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
      expect(m?.deliveryCount).toBe(i);
      await receiver.abandonMessage(m as ServiceBusReceivedMessage);
    }
    expect(bus.counts(q)).toMatchObject({ active: 0, locked: 0, deadLettered: 1 });
    const dlq = c.createReceiver(q, { subQueueType: 'deadLetter' });
    const [dead] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(dead?.messageId).toBe('poison-1');
    expect(dead?.deadLetterReason).toBe('MaxDeliveryCountExceeded');
    expect(dead?.deadLetterSource).toBe(q);
    await dlq.completeMessage(dead as ServiceBusReceivedMessage);
  });

  it('defers a message and receives it again by sequence number', async () => {
    const q = queue();
    const c = client();
    await c.createSender(q).sendMessages({ body: 'later', messageId: 'defer-1' });
    const receiver = c.createReceiver(q);
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    const sequenceNumber = m?.sequenceNumber;
    if (!m || !sequenceNumber) throw new Error('no message');
    await receiver.deferMessage(m, { attempt: 1 });
    expect(bus.counts(q)).toMatchObject({ active: 0, deferred: 1 });
    expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 500 })).toEqual([]);
    const [deferred] = await receiver.receiveDeferredMessages(sequenceNumber);
    expect(deferred?.messageId).toBe('defer-1');
    expect(deferred?.state).toBe('deferred');
    expect(deferred?.applicationProperties?.attempt).toBe(1);
    await receiver.completeMessage(deferred as ServiceBusReceivedMessage);
    expect(bus.counts(q)).toMatchObject({ active: 0, deferred: 0, locked: 0 });
  });

  it('counts a defer as a delivery, so MaxDeliveryCount 1 dead-letters a deferred message', async () => {
    const q = queue({ maxDeliveryCount: 2 });
    const c = client();
    await c.createSender(q).sendMessages({ body: 'later', messageId: 'defer-count' });
    const receiver = c.createReceiver(q);
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    if (!m?.sequenceNumber) throw new Error('no message');
    await receiver.deferMessage(m);
    const [again] = await receiver.receiveDeferredMessages(m.sequenceNumber);
    expect(again?.deliveryCount).toBe(1);
    await receiver.deferMessage(again as ServiceBusReceivedMessage);
    expect(bus.counts(q)).toMatchObject({ deferred: 0, deadLettered: 1 });
    expect(bus.deadLetters(q)[0]?.reason).toBe('MaxDeliveryCountExceeded');
    // Both defers count: the one on the receive link and the one by update-disposition.
    expect(bus.deferrals(q)).toBe(2);
  });

  it('records which delivery completed each message and how many defers the entity took', async () => {
    const q = queue();
    const c = client();
    await c.createSender(q).sendMessages([
      { body: 'now', messageId: 'first-time' },
      { body: 'later', messageId: 'after-defer' },
    ]);
    const receiver = c.createReceiver(q);
    const received = await receiver.receiveMessages(2, { maxWaitTimeInMs: 5_000 });
    const [now, later] = ['first-time', 'after-defer'].map((id) => received.find((m) => m.messageId === id));
    if (!now || !later?.sequenceNumber) throw new Error('both messages expected');
    await receiver.completeMessage(now);
    await receiver.deferMessage(later);
    const [again] = await receiver.receiveDeferredMessages(later.sequenceNumber);
    await receiver.completeMessage(again as ServiceBusReceivedMessage);
    expect(bus.completions(q).map(({ messageId, deliveries }) => ({ messageId, deliveries }))).toEqual([
      { messageId: 'first-time', deliveries: 1 },
      { messageId: 'after-defer', deliveries: 2 },
    ]);
    expect(bus.completions(q)[1]?.sequenceNumber).toBe(Number(later.sequenceNumber));
    expect(bus.deferrals(q)).toBe(1);
  });

  it('keeps the lock of a long handler alive by automatic renewal', async () => {
    const q = queue({ lockDurationMs: 2_000 });
    const c = client();
    await c.createSender(q).sendMessages({ body: 'slow', messageId: 'slow-1' });
    const receiver = c.createReceiver(q);
    const completed: string[] = [];
    const errors: unknown[] = [];
    const subscription = receiver.subscribe(
      {
        processMessage: async (m) => {
          await new Promise((r) => setTimeout(r, 6_000));
          await receiver.completeMessage(m);
          completed.push(String(m.messageId));
        },
        processError: async (args) => {
          errors.push(args.error);
        },
      },
      { autoCompleteMessages: false },
    );
    await until(() => completed.length === 1, 12_000);
    await subscription.close();
    expect(completed).toEqual(['slow-1']);
    expect(errors).toEqual([]);
    expect(bus.messages(q)).toEqual([]);
  }, 20_000);

  it('refuses a receiver without a Listen role with UnauthorizedAccess', async () => {
    const q = queue();
    const c = client(senderOnly);
    await c.createSender(q).sendMessages({ body: 'allowed' });
    const receiver = c.createReceiver(q);
    const error = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // The SDK retries UnauthorizedError (credentials may rotate), so what surfaces is an AggregateError
    // of the attempts, as it is against Azure.
    const cause = serviceBusCause(error);
    expect(cause).toMatchObject({ code: 'UnauthorizedAccess' });
    expect(cause?.message).toContain(
      "'Listen' claim(s) are required to perform this operation. Resource: 'sb://",
    );
    expect(bus.counts(q).active).toBe(1);
  });

  it('refuses a sender without a Send role with UnauthorizedAccess', async () => {
    const q = queue();
    const error = await failure(client(reader).createSender(q).sendMessages({ body: 'denied' }));
    const cause = serviceBusCause(error);
    expect(cause).toMatchObject({ code: 'UnauthorizedAccess' });
    expect(cause?.message).toContain("'Send' claim(s) are required");
    expect(bus.counts(q).active).toBe(0);
  });

  it('answers a refused put-token with 401, which the SDK reports as UnauthorizedAccess', async () => {
    const q = queue();
    bus.refuseTokens(10);
    const error = await failure(client().createSender(q).sendMessages({ body: 'no token' }));
    bus.refuseTokens(0);
    expect(serviceBusCause(error)).toMatchObject({ code: 'UnauthorizedAccess' });
  });

  it('reports an injected lock loss on settlement as MessageLockLost and keeps the message', async () => {
    const q = queue({ lockDurationMs: 1_000 });
    const c = client();
    await c.createSender(q).sendMessages({ body: 'fragile', messageId: 'lost-1' });
    const receiver = c.createReceiver(q, { maxAutoLockRenewalDurationInMs: 0 });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    bus.failSettlements(1, 'lock-lost');
    const error = await failure(receiver.completeMessage(m as ServiceBusReceivedMessage));
    expect(serviceBusCause(error)).toMatchObject({ code: 'MessageLockLost' });
    const [again] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(again).toMatchObject({ messageId: 'lost-1', deliveryCount: 1 });
    await receiver.completeMessage(again as ServiceBusReceivedMessage);
  });

  it('answers settlements after the injected latency and applies abandon property updates', async () => {
    const q = queue();
    const c = client();
    await c.createSender(q).sendMessages({ body: 'slow ack', messageId: 'lat-1' });
    const receiver = c.createReceiver(q);
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    bus.setSettlementLatency(400);
    const started = Date.now();
    await receiver.abandonMessage(m as ServiceBusReceivedMessage, { lastError: 'timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
    const [again] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(again?.applicationProperties).toMatchObject({ lastError: 'timeout' });
    expect(again?.deliveryCount).toBe(1);
    await receiver.completeMessage(again as ServiceBusReceivedMessage);
  });

  it('dead-letters with a reason and description the dead-letter receiver sees', async () => {
    const q = queue();
    const c = client();
    await c.createSender(q).sendMessages({ body: 'not json?', messageId: 'bad-1' });
    const receiver = c.createReceiver(q);
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    await receiver.deadLetterMessage(m as ServiceBusReceivedMessage, {
      deadLetterReason: 'ValidationFailed',
      deadLetterErrorDescription: 'body is not a CloudEvent',
    });
    expect(bus.deadLetters(q)).toMatchObject([
      { messageId: 'bad-1', reason: 'ValidationFailed', description: 'body is not a CloudEvent' },
    ]);
    const [dead] = await c
      .createReceiver(q, { subQueueType: 'deadLetter', receiveMode: 'receiveAndDelete' })
      .receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(dead).toMatchObject({
      messageId: 'bad-1',
      body: 'not json?',
      deadLetterReason: 'ValidationFailed',
      deadLetterErrorDescription: 'body is not a CloudEvent',
    });
    expect(bus.counts(q).deadLettered).toBe(0);
  });

  it('fans a message sent to a topic out to every subscription', async () => {
    const topic = `t-${randomUUID().slice(0, 8)}`;
    bus.createTopic(topic);
    bus.createSubscription(topic, 'audit');
    bus.createSubscription(topic, 'billing');
    const c = client();
    await c.createSender(topic).sendMessages({ body: { n: 1 }, messageId: 'fan-1' });
    for (const sub of ['audit', 'billing']) {
      const receiver = c.createReceiver(topic, sub);
      const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
      expect(m?.messageId).toBe('fan-1');
      await receiver.completeMessage(m as ServiceBusReceivedMessage);
      expect(bus.counts(`${topic}/Subscriptions/${sub}`).active).toBe(0);
    }
  });

  it('refuses a message larger than the size limit with MessageSizeExceeded', async () => {
    const q = queue();
    const sender = client().createSender(q);
    const error = await failure(sender.sendMessages({ body: 'x'.repeat(300_000), messageId: 'too-big' }));
    expect(serviceBusCause(error)).toMatchObject({
      code: 'MessageSizeExceeded',
      message: expect.stringContaining('exceeds the limit (262144 bytes) currently allowed on the link'),
    });
    expect(bus.counts(q).active).toBe(0);
    await sender.sendMessages({ body: 'x'.repeat(200_000), messageId: 'fits' });
    expect(bus.counts(q).active).toBe(1);
  });

  it('accepts a batch of 1000 messages in as few transfers as the size limit allows', async () => {
    const q = queue();
    const c = client();
    const sender = c.createSender(q);
    let batch = await sender.createMessageBatch();
    expect(batch.maxSizeInBytes).toBe(262_144);
    let sent = 0;
    for (let i = 0; i < 1000; i++) {
      const message = { body: { i }, messageId: `b-${i}` };
      if (!batch.tryAddMessage(message)) {
        await sender.sendMessages(batch);
        sent += batch.count;
        batch = await sender.createMessageBatch();
        expect(batch.tryAddMessage(message)).toBe(true);
      }
    }
    await sender.sendMessages(batch);
    sent += batch.count;
    expect(sent).toBe(1000);
    expect(bus.counts(q).active).toBe(1000);
    const receiver = c.createReceiver(q, { receiveMode: 'receiveAndDelete' });
    const seen = new Set<string>();
    while (seen.size < 1000) {
      const got = await receiver.receiveMessages(250, { maxWaitTimeInMs: 2_000 });
      if (got.length === 0) break;
      for (const m of got) seen.add(String(m.messageId));
    }
    expect(seen.size).toBe(1000);
  });

  it('peeks messages in order without locking them', async () => {
    const q = queue();
    const c = client();
    await c.createSender(q).sendMessages([
      { body: 1, messageId: 'p-1' },
      { body: 2, messageId: 'p-2' },
      { body: 3, messageId: 'p-3' },
    ]);
    const receiver = c.createReceiver(q);
    const peeked = await receiver.peekMessages(2);
    expect(peeked.map((m) => m.messageId)).toEqual(['p-1', 'p-2']);
    expect((await receiver.peekMessages(5)).map((m) => m.messageId)).toEqual(['p-3']);
    expect(await receiver.peekMessages(5)).toEqual([]);
    expect(bus.counts(q)).toMatchObject({ active: 3, locked: 0 });
  });

  it('answers more management requests on one link than a session holds deliveries (2,048)', async () => {
    const q = queue();
    const sender = client().createSender(q);
    await sender.sendMessages({ body: 'renewed', messageId: 'm-renew' });
    const receiver = client().createReceiver(q);
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    // Each renewal is one request and one reply on the receiver's management link, as the SDK's
    // automatic renewal of a full credit window sends them.
    for (let i = 0; i < 21; i++) {
      await Promise.all(
        Array.from({ length: 100 }, () => receiver.renewMessageLock(message as ServiceBusReceivedMessage)),
      );
    }
    await receiver.completeMessage(message as ServiceBusReceivedMessage);
    expect(bus.completedMessageIds(q)).toEqual(['m-renew']);
  }, 30_000);

  it('schedules a message and cancels it before it becomes active', async () => {
    const q = queue();
    const c = client();
    const sender = c.createSender(q);
    const [keep] = await sender.scheduleMessages(
      { body: 'soon', messageId: 's-keep' },
      new Date(Date.now() + 800),
    );
    const [drop] = await sender.scheduleMessages(
      { body: 'never', messageId: 's-drop' },
      new Date(Date.now() + 800),
    );
    expect(bus.counts(q)).toMatchObject({ active: 0, scheduled: 2 });
    const [peeked] = await c.createReceiver(q).peekMessages(1);
    expect(peeked?.state).toBe('scheduled');
    await sender.cancelScheduledMessages(drop as NonNullable<typeof drop>);
    expect(bus.counts(q)).toMatchObject({ scheduled: 1 });
    const [m] = await c.createReceiver(q).receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    expect(m?.messageId).toBe('s-keep');
    expect(m?.sequenceNumber?.toNumber()).toBe(keep?.toNumber());
    await new Promise((r) => setTimeout(r, 300));
    expect(bus.counts(q)).toMatchObject({ active: 0, scheduled: 0, locked: 1 });
  });

  it('drops a duplicate message id inside the detection window', async () => {
    const q = queue({ duplicateDetectionWindowMs: 60_000 });
    const sender = client().createSender(q);
    await sender.sendMessages({ body: 'first', messageId: 'dup-1' });
    await sender.sendMessages({ body: 'second', messageId: 'dup-1' });
    await sender.sendMessages({ body: 'other', messageId: 'dup-2' });
    expect(bus.messages(q).map((m) => [m.messageId, m.body])).toEqual([
      ['dup-1', 'first'],
      ['dup-2', 'other'],
    ]);
  });

  it('recovers subscribe() after dropped connections and completes every message exactly once', async () => {
    const q = queue({ lockDurationMs: 2_000 });
    const c = client();
    const ids = Array.from({ length: 60 }, (_, i) => `drop-${i}`);
    await c.createSender(q).sendMessages(ids.map((messageId) => ({ body: messageId, messageId })));
    const receiver = c.createReceiver(q);
    const completions = new Map<string, number>();
    const subscription = receiver.subscribe(
      {
        processMessage: async (m) => {
          await new Promise((r) => setTimeout(r, 20));
          await receiver.completeMessage(m);
          const id = String(m.messageId);
          completions.set(id, (completions.get(id) ?? 0) + 1);
        },
        processError: async () => {},
      },
      { autoCompleteMessages: false, maxConcurrentCalls: 4 },
    );
    await until(() => completions.size >= 10);
    bus.dropConnections();
    await until(() => completions.size >= 30);
    bus.dropConnections();
    await until(() => bus.completedMessageIds(q).length === ids.length, 30_000);
    await subscription.close();
    expect([...bus.completedMessageIds(q)].sort()).toEqual([...ids].sort());
    expect([...completions.values()].every((n) => n === 1)).toBe(true);
    expect(bus.messages(q)).toEqual([]);
  }, 45_000);
});
