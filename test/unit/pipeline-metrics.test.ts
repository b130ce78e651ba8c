import { ServiceBusError } from '@azure/service-bus';
import { describe, expect, it } from 'vitest';
import { parseExposition } from '../../scripts/lib/prometheus-text.ts';
import { observeCredential } from '../../src/identity/observed-credential.ts';
import { messageMetrics, receiverMetrics, tokenMetrics } from '../../src/metrics/pipeline-metrics.ts';
import { createMetrics, metricNames as n } from '../../src/metrics-registry.ts';
import { createTestConsumer } from '../helpers/test-consumer.ts';
import { capturingLogger, fakeClient, received, receivedEvent } from './consumer-fakes.ts';

const scrape = async (metrics: ReturnType<typeof createMetrics>) => parseExposition(await metrics.text());

function setup(now = () => Date.now()) {
  const metrics = createMetrics({ processMetrics: false });
  const bus = fakeClient();
  const consumer = createTestConsumer({
    client: bus.client,
    entity: { queue: 'orders' },
    logger: capturingLogger().logger,
    watchdog: false,
    observer: messageMetrics(metrics, now),
  });
  return { metrics, consumer, receiver: () => bus.receivers[0] ?? expect.fail('no receiver') };
}

describe('pipeline metrics', () => {
  it('counts received, completed and dead-lettered-by-reason messages, and the lag of committed ones', async () => {
    const { metrics, consumer, receiver } = setup(() => 10_000);
    await consumer.start();
    await receiver().deliver({ ...receivedEvent('e-1'), enqueuedTimeUtc: new Date(7_500) } as never);
    await receiver().deliver(
      received({ contentType: 'application/cloudevents+json', body: Buffer.from('{oops') }),
    );
    const m = await scrape(metrics);
    expect(m.sum(n.received)).toBe(2);
    expect(m.sum(n.completed)).toBe(1);
    expect(m.sum(n.deadLettered, { reason: 'InvalidJson' })).toBe(1);
    expect(m.sum(`${n.lag}_count`)).toBe(1);
    expect(m.sum(`${n.lag}_sum`)).toBe(2.5);
    await consumer.close();
  });

  it('counts a settlement that lost its lock as a settle failure and a lock loss, not as completed', async () => {
    const { metrics, consumer, receiver } = setup();
    await consumer.start();
    receiver().failNextSettlement = new ServiceBusError('lock lost', 'MessageLockLost');
    await receiver().deliver(receivedEvent('e-2'));
    const m = await scrape(metrics);
    expect(m.sum(n.settleFailures, { outcome: 'complete', code: 'MessageLockLost' })).toBe(1);
    expect(m.sum(n.lockLosses)).toBe(1);
    expect(m.sum(n.completed)).toBe(0);
    await consumer.close();
  });

  it('counts a message whose lock was renewed while it was handled', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const bus = fakeClient();
    const consumer = createTestConsumer({
      client: bus.client,
      entity: { queue: 'orders' },
      // The slow one outlasts half of its short lock: it is renewed before it settles.
      handle: async (_event, { message }) => {
        if (message.messageId === 'slow') await new Promise((r) => setTimeout(r, 400));
        return { kind: 'complete' };
      },
      logger: capturingLogger().logger,
      watchdog: false,
      observer: messageMetrics(metrics),
    });
    await consumer.start();
    const lockedUntilUtc = () => new Date(Date.now() + 400);
    await bus.receivers[0]?.deliver({ ...receivedEvent('slow'), lockedUntilUtc: lockedUntilUtc() } as never);
    await bus.receivers[0]?.deliver({ ...receivedEvent('fast'), lockedUntilUtc: lockedUntilUtc() } as never);
    expect(bus.receivers[0]?.renewals).toEqual(['slow']);
    expect((await scrape(metrics)).sum(n.lockRenewedMessages)).toBe(1);
    await consumer.close();
  });

  it('counts a lock renewal that failed while a message was handled', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const bus = fakeClient();
    let release = () => {};
    const consumer = createTestConsumer({
      client: bus.client,
      entity: { queue: 'orders' },
      handle: () => new Promise((resolve) => (release = () => resolve({ kind: 'complete' }))),
      logger: capturingLogger().logger,
      watchdog: false,
      observer: messageMetrics(metrics),
    });
    await consumer.start();
    const receiver = bus.receivers[0] ?? expect.fail('no receiver');
    receiver.failRenewals = new ServiceBusError('lock lost', 'MessageLockLost');
    const delivered = receiver.deliver({
      ...receivedEvent('r-1'),
      lockedUntilUtc: new Date(Date.now() + 300),
    } as never);
    await expect.poll(async () => (await scrape(metrics)).sum(n.lockRenewalFailures)).toBe(1);
    expect((await scrape(metrics)).sum(n.receiveErrors, { source: 'renewLock' })).toBe(1);
    release();
    await delivered;
    await consumer.close();
  });

  it('counts the errors the SDK reports while receiving, by error source', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const bus = fakeClient();
    const consumer = createTestConsumer({
      client: bus.client,
      entity: { queue: 'orders' },
      logger: capturingLogger().logger,
      watchdog: false,
      observer: receiverMetrics(metrics),
    });
    await consumer.start();
    await bus.receivers[0]?.handlers?.processError({
      error: new ServiceBusError('gone', 'ServiceCommunicationProblem'),
      errorSource: 'receive',
      entityPath: 'orders',
      fullyQualifiedNamespace: 'x',
      identifier: 'receiver-1',
    });
    expect((await scrape(metrics)).sum(n.receiveErrors, { source: 'receive' })).toBe(1);
    await consumer.close();
  });

  it('counts a token refresh only when the credential hands out a token it had not before', async () => {
    const metrics = createMetrics({ processMetrics: false });
    let issued = 0;
    let token = { token: 't-1', expiresOnTimestamp: Date.now() + 3_600_000 };
    const credential = observeCredential(
      {
        getToken: async () => {
          issued++;
          return token;
        },
      },
      tokenMetrics(metrics),
    );
    await credential.getToken('https://servicebus.azure.net/.default');
    await credential.getToken('https://servicebus.azure.net/.default'); // the cache's answer
    token = { token: 't-2', expiresOnTimestamp: Date.now() + 3_600_000 };
    await credential.getToken('https://servicebus.azure.net/.default');
    const m = await scrape(metrics);
    expect(issued).toBe(3);
    expect(m.sum(n.tokenRefreshes, { scope: 'https://servicebus.azure.net/.default' })).toBe(2);
    expect(credential.lastToken('https://servicebus.azure.net/.default')?.token).toBe('t-2');
  });

  it('settles a message as usual when an observer throws, and logs the observer failure', async () => {
    const { logger, lines } = capturingLogger();
    const bus = fakeClient();
    const broken = () => {
      throw new Error('observer bug');
    };
    const consumer = createTestConsumer({
      client: bus.client,
      entity: { queue: 'orders' },
      logger,
      watchdog: false,
      observer: { received: broken, decided: broken, settling: broken, settled: broken },
    });
    await consumer.start();
    await bus.receivers[0]?.deliver(receivedEvent('e-9'));
    expect(bus.receivers[0]?.settlements).toEqual([{ kind: 'complete', messageId: 'e-9' }]);
    expect(lines.filter((l) => l.msg === 'message observer failed').map((l) => l.hook)).toEqual([
      'received',
      'decided',
      'settling',
      'settled',
    ]);
    await consumer.close();
  });

  it('returns the registered instrument when a component registers a name twice', () => {
    const metrics = createMetrics({ processMetrics: false });
    const a = metrics.counter('keyless_test_total', 'A test counter.');
    expect(metrics.counter('keyless_test_total', 'A test counter.')).toBe(a);
  });
});
