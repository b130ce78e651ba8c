import { ServiceBusError } from '@azure/service-bus';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { createBreaker } from '../../src/pipeline/breaker.ts';
import type { Handle } from '../../src/pipeline/decide.ts';
import type { Outcome } from '../../src/pipeline/outcome.ts';
import { createTestConsumer, type TestConsumerOptions } from '../helpers/test-consumer.ts';
import {
  capturingLogger,
  deferred,
  fakeClient,
  received,
  receivedEvent,
  receiverOptionsOf,
} from './consumer-fakes.ts';

function setup(patch: Partial<TestConsumerOptions> = {}) {
  const bus = fakeClient();
  const { logger, lines } = capturingLogger();
  const handle = vi.fn<Handle>(async () => ({ kind: 'complete' }));
  const consumer = createTestConsumer({
    client: bus.client,
    entity: { queue: 'orders' },
    handle,
    logger,
    watchdog: false,
    ...patch,
  });
  return { consumer, bus, lines, handle, receiver: () => bus.receivers[0] ?? expect.fail('no receiver') };
}

describe('consumer', () => {
  it('subscribes in peek-lock with manual settlement and the credit window, renewing locks itself', async () => {
    const { consumer, receiver, bus } = setup({ concurrency: 8, lockRenewalMaxMs: 600_000 });
    await consumer.start();
    expect(bus.receivers[0]?.args[0]).toBe('orders');
    expect(receiverOptionsOf(receiver())).toMatchObject({
      receiveMode: 'peekLock',
      maxAutoLockRenewalDurationInMs: 0,
    });
    expect(receiver().subscribeOptions).toEqual({ autoCompleteMessages: false, maxConcurrentCalls: 8 });
    await consumer.close();
  });

  it('receives from a topic subscription', async () => {
    const { consumer, receiver } = setup({ entity: { topic: 'events', subscription: 'worker' } });
    await consumer.start();
    expect(receiver().args.slice(0, 2)).toEqual(['events', 'worker']);
    await consumer.close();
  });

  it('dead-letters a body that is not JSON at once, without calling handle', async () => {
    const { consumer, receiver, handle, lines } = setup();
    await consumer.start();
    const message = received({ contentType: 'application/cloudevents+json', body: Buffer.from('{oops') });
    await receiver().deliver(message);
    expect(handle).not.toHaveBeenCalled();
    expect(receiver().settlements).toEqual([
      {
        kind: 'deadLetter',
        messageId: message.messageId,
        options: {
          deadLetterReason: 'InvalidJson',
          deadLetterErrorDescription: expect.stringMatching(/^the body is not JSON: /),
        },
      },
    ]);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 50,
        stage: 'validate',
        reason: 'InvalidJson',
        messageId: message.messageId,
        sequenceNumber: expect.any(String),
      }),
    );
    await consumer.close();
  });

  it('dead-letters an event that fails its schema as ValidationFailed with the field path', async () => {
    const { consumer, receiver } = setup();
    await consumer.start();
    await receiver().deliver(receivedEvent('e-1', { parcelId: 'x', status: 'delivered', version: 1 }));
    expect(receiver().settlements[0]?.options).toMatchObject({
      deadLetterReason: 'ValidationFailed',
      deadLetterErrorDescription: expect.stringContaining('data.parcelId: '),
    });
    await consumer.close();
  });

  it.each<[Outcome, string]>([
    [{ kind: 'complete' }, 'complete'],
    [{ kind: 'abandon', error: new Error('db busy') }, 'abandon'],
    [{ kind: 'defer', error: new Error('db busy') }, 'defer'],
    [{ kind: 'deadLetter', reason: 'PermanentSqlError', description: 'FK violation' }, 'deadLetter'],
  ])('settles a valid event as handle decides: %o', async (outcome, kind) => {
    const { consumer, receiver } = setup({ handle: async () => outcome });
    await consumer.start();
    await receiver().deliver(receivedEvent('e-1'));
    expect(receiver().settlements).toMatchObject([{ kind, messageId: 'e-1' }]);
    await consumer.close();
  });

  it('passes the validated event and a per-message logger to handle', async () => {
    const { consumer, receiver, handle } = setup();
    await consumer.start();
    await receiver().deliver(receivedEvent('e-7'));
    const [event, ctx] = handle.mock.calls[0] ?? expect.fail('handle not called');
    expect(event).toMatchObject({ id: 'e-7', data: { status: 'delivered', version: 3 } });
    expect(ctx.logger.bindings()).toMatchObject({ messageId: 'e-7', entity: 'orders' });
    expect(ctx.signal.aborted).toBe(false);
    await consumer.close();
  });

  it('abandons a message whose handle throws, reporting the write stage', async () => {
    const { consumer, receiver, lines } = setup({
      handle: async () => {
        throw new Error('boom');
      },
    });
    await consumer.start();
    await receiver().deliver(receivedEvent('e-2'));
    expect(receiver().settlements).toMatchObject([{ kind: 'abandon', messageId: 'e-2' }]);
    expect(lines).toContainEqual(expect.objectContaining({ stage: 'write', messageId: 'e-2' }));
    await consumer.close();
  });

  it('reports a failed settlement with stage settle and does not retry it', async () => {
    const { consumer, receiver, lines } = setup();
    await consumer.start();
    receiver().failNextSettlement = new ServiceBusError('lock lost', 'MessageLockLost');
    await receiver().deliver(receivedEvent('e-3'));
    expect(receiver().settlements).toEqual([]);
    expect(lines).toContainEqual(
      expect.objectContaining({ stage: 'settle', code: 'MessageLockLost', messageId: 'e-3', level: 40 }),
    );
    expect(consumer.stats()).toMatchObject({ received: 1, completed: 0, settleFailures: 1 });
    await consumer.close();
  });

  it('gives up on a settlement that gets no answer, so close is not held hostage', async () => {
    const { consumer, receiver, lines } = setup({ settleTimeoutMs: 30 });
    await consumer.start();
    receiver().hangNextSettlement = true;
    await receiver().deliver(receivedEvent('e-8'));
    expect(lines).toContainEqual(
      expect.objectContaining({ stage: 'settle', code: 'SettleTimeout', messageId: 'e-8' }),
    );
    expect(consumer.stats()).toMatchObject({ settleFailures: 1, inFlight: 0 });
    await consumer.close();
  });

  it('renews the lock of a message while it is handled, and never once its settlement failed', async () => {
    const gate = deferred<Outcome>();
    const { consumer, receiver, handle } = setup({ settleTimeoutMs: 30 });
    handle.mockImplementationOnce(() => gate.promise);
    await consumer.start();
    receiver().lockDurationMs = 200;
    const message = receivedEvent('e-9');
    (message as { lockedUntilUtc?: Date }).lockedUntilUtc = new Date(Date.now() + 200);
    receiver().hangNextSettlement = true;
    const delivered = receiver().deliver(message);
    await vi.waitFor(() => expect(receiver().renewals.length).toBeGreaterThanOrEqual(3), { timeout: 2_000 });
    gate.resolve({ kind: 'complete' });
    await delivered;
    expect(consumer.stats()).toMatchObject({ settleFailures: 1, inFlight: 0 });
    // The settlement got no answer: the lock must lapse so that Service Bus delivers the message again.
    const renewed = receiver().renewals.length;
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver().renewals).toHaveLength(renewed);
    await consumer.close();
  });

  it('stops renewing a lock at the renewal limit', async () => {
    const gate = deferred<Outcome>();
    const { consumer, receiver, handle } = setup({ lockRenewalMaxMs: 400, drainGraceMs: 100 });
    handle.mockImplementationOnce(() => gate.promise);
    await consumer.start();
    receiver().lockDurationMs = 150;
    const message = receivedEvent('e-10');
    (message as { lockedUntilUtc?: Date }).lockedUntilUtc = new Date(Date.now() + 150);
    const delivered = receiver().deliver(message);
    await new Promise((r) => setTimeout(r, 900));
    // About one renewal per 75 ms while the limit lasts, then none.
    const renewals = receiver().renewals.length;
    expect(renewals).toBeGreaterThanOrEqual(2);
    expect(renewals).toBeLessThanOrEqual(7);
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver().renewals).toHaveLength(renewals);
    gate.resolve({ kind: 'complete' });
    await delivered;
    await consumer.close();
  });

  it('logs receive errors with their stage and keeps running', async () => {
    const { consumer, receiver, lines } = setup();
    await consumer.start();
    await receiver().handlers?.processError({
      error: new ServiceBusError('connection reset', 'ServiceCommunicationProblem'),
      errorSource: 'receive',
      entityPath: 'orders',
      fullyQualifiedNamespace: 'ns',
      identifier: 'r',
    });
    expect(lines).toContainEqual(
      expect.objectContaining({ stage: 'receive', code: 'ServiceCommunicationProblem', level: 40 }),
    );
    expect(consumer.stats().state).toBe('running');
    await consumer.close();
  });

  it('on close lets in-flight messages finish, then closes the receiver', async () => {
    const gate = deferred<Outcome>();
    const { consumer, receiver } = setup({ handle: () => gate.promise, drainGraceMs: 5_000 });
    await consumer.start();
    const delivery = receiver().deliver(receivedEvent('e-4'));
    const closed = consumer.close();
    await vi.waitFor(() => expect(receiver().subscriptionClosed).toBe(true));
    expect(receiver().closed).toBe(false);
    gate.resolve({ kind: 'complete' });
    await Promise.all([delivery, closed]);
    expect(receiver().settlements).toMatchObject([{ kind: 'complete', messageId: 'e-4' }]);
    expect(receiver().closed).toBe(true);
    expect(consumer.stats().state).toBe('closed');
  });

  it('abandons what did not finish within the drain grace period, exactly once', async () => {
    let signal: AbortSignal | undefined;
    const late = deferred<Outcome>();
    const { consumer, receiver } = setup({
      drainGraceMs: 20,
      handle: (_event, ctx) => {
        signal = ctx.signal;
        return late.promise;
      },
    });
    await consumer.start();
    const delivery = receiver().deliver(receivedEvent('e-5'));
    await consumer.close();
    await delivery;
    expect(signal?.aborted).toBe(true);
    late.resolve({ kind: 'complete' });
    await new Promise((r) => setTimeout(r, 5));
    expect(receiver().settlements).toMatchObject([{ kind: 'abandon', messageId: 'e-5' }]);
    expect(receiver().closed).toBe(true);
  });

  it('abandons a message that arrives after close began', async () => {
    const gate = deferred<Outcome>();
    let calls = 0;
    const { consumer, receiver } = setup({
      handle: () => {
        calls++;
        return gate.promise;
      },
    });
    await consumer.start();
    const first = receiver().deliver(receivedEvent('e-6'));
    const closed = consumer.close();
    await receiver().deliver(receivedEvent('e-late'));
    gate.resolve({ kind: 'complete' });
    await Promise.all([first, closed]);
    expect(calls).toBe(1);
    expect(receiver().settlements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'abandon', messageId: 'e-late' }),
        expect.objectContaining({ kind: 'complete', messageId: 'e-6' }),
      ]),
    );
  });

  it('closes idempotently and refuses to start again', async () => {
    const { consumer } = setup();
    await consumer.start();
    await Promise.all([consumer.close(), consumer.close()]);
    await expect(consumer.start()).rejects.toMatchObject({ name: 'ConsumerError', code: 'Closed' });
  });

  it('recreates a receiver that delivers nothing while messages wait', async () => {
    const bus = fakeClient(() => [received()]);
    const { logger, lines } = capturingLogger();
    const consumer = createTestConsumer({
      client: bus.client,
      entity: { queue: 'orders' },
      logger,
      watchdog: { idleMs: 30, checkIntervalMs: 10 },
    });
    await consumer.start();
    await vi.waitFor(() => expect(consumer.stats().receiverRestarts).toBeGreaterThanOrEqual(1));
    const [first] = bus.receivers;
    expect(first?.closed).toBe(true);
    const subscribed = bus.receivers.filter((r) => r.handlers);
    expect(subscribed.length).toBeGreaterThanOrEqual(2);
    expect(lines).toContainEqual(expect.objectContaining({ stage: 'receive', level: 40 }));
    await consumer.close();
    expect(bus.receivers.every((r) => r.closed)).toBe(true);
  });

  it('opens its link without taking messages while the breaker is open at start, and takes them once it closes', async () => {
    const breaker = createBreaker({
      threshold: 1,
      probeMinMs: 600_000,
      probeMaxMs: 600_000,
      probe: async () => {},
      logger: pino({ level: 'silent' }),
    });
    breaker.record({ ok: false, transient: true, error: { message: 'down' } });
    const { consumer, bus, receiver } = setup({ breaker });
    await consumer.start();
    // The receiver exists (readiness, settlement) but was never given credit.
    expect(bus.receivers).toHaveLength(1);
    expect(receiver().handlers).toBeUndefined();
    expect(consumer.stats()).toMatchObject({ state: 'running', paused: true });
    breaker.record({ ok: true });
    expect(receiver().handlers).toBeDefined();
    expect(consumer.stats().paused).toBe(false);
    await consumer.close();
    breaker.close();
  });
});
