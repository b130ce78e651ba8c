import { setTimeout as sleep } from 'node:timers/promises';
import { ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCredential } from '../../src/identity/credential.ts';
import { describeIdentity } from '../../src/identity/describe.ts';
import { type DeadLetterOptions, reprocessDeadLetters } from '../../src/reprocess/dlq.ts';
import { parcelRegisteredType, parcelStatusChangedType } from '../fixtures/parcels/events.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';

let system: SystemStack;
let operator: ServiceBusClient;
let operatorIdentity: ReturnType<typeof describeIdentity>;
let nextQueue = 0;
const windowMs = 300;

beforeAll(async () => {
  system = await startSystemStack({ migrate: false });
  const credential = createCredential({ clientId: system.stack.file.identities.operator.clientId });
  operatorIdentity = describeIdentity(
    (await credential.getToken('https://servicebus.azure.net/.default'))?.token ?? '',
  );
  operator = new ServiceBusClient(system.stack.file.serviceBus.fullyQualifiedNamespace, credential);
});
afterAll(async () => {
  await operator?.close();
  await system?.close();
});

type Letter = { id: string; type: string; reason: string };

/** A fresh queue whose dead-letter queue holds `letters`, dead-lettered by a real receiver. */
async function queueWithDeadLetters(letters: Letter[], window = windowMs): Promise<string> {
  const queue = `dlq-${++nextQueue}`;
  system.stack.serviceBus.createQueue(queue, { duplicateDetectionWindowMs: window });
  const sender = operator.createSender(queue);
  await sender.sendMessages(
    letters.map((l) => ({
      messageId: l.id,
      subject: l.type,
      // Bytes as the publisher sends structured events, and a JSON value as other senders do.
      body: l.id === 'a2' ? Buffer.from(JSON.stringify({ id: l.id }), 'utf8') : { id: l.id },
      applicationProperties: { tenant: 't1' },
    })),
  );
  await sender.close();
  const receiver = operator.createReceiver(queue);
  let left = letters.length;
  while (left > 0) {
    for (const m of await receiver.receiveMessages(left, { maxWaitTimeInMs: 1000 })) {
      const letter = letters.find((l) => l.id === m.messageId) as Letter;
      await receiver.deadLetterMessage(m, {
        deadLetterReason: letter.reason,
        deadLetterErrorDescription: 'test',
      });
      left--;
    }
  }
  await receiver.close();
  return queue;
}

const letters: Letter[] = [
  { id: 'a1', type: parcelRegisteredType, reason: 'ValidationFailed' },
  { id: 'a2', type: parcelRegisteredType, reason: 'ValidationFailed' },
  { id: 'a3', type: parcelStatusChangedType, reason: 'ValidationFailed' },
  { id: 'b1', type: parcelRegisteredType, reason: 'PermanentSqlError' },
  { id: 'b2', type: parcelStatusChangedType, reason: 'PermanentSqlError' },
];

const run = (queue: string, extra: Partial<DeadLetterOptions>) =>
  reprocessDeadLetters({
    client: operator,
    queue,
    namespace: 'keyless-local.servicebus.windows.net',
    identity: operatorIdentity,
    filter: {},
    duplicateWindowMs: windowMs,
    ...extra,
  });

const ids = (snapshots: { messageId: string }[]) => snapshots.map((s) => s.messageId).sort();
const pastWindow = () => sleep(windowMs + 100);

describe('npm run reprocess -- dlq', () => {
  it('--dry-run lists what it would replay, with counts, and changes nothing', async () => {
    const queue = await queueWithDeadLetters(letters);
    await pastWindow();
    const plan: string[] = [];
    const summary = await run(queue, {
      dryRun: true,
      filter: { reason: 'ValidationFailed' },
      onPlan: (l) => plan.push(l),
    });
    expect(summary.counts).toEqual({ 'would-replay': 3 });
    expect(plan).toHaveLength(3);
    expect(ids(system.stack.serviceBus.deadLetters(queue))).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
    expect(system.stack.serviceBus.messages(queue)).toEqual([]);
  });

  it('replays exactly the dead letters the filters select, keeping the MessageId and marking the replay', async () => {
    const queue = await queueWithDeadLetters(letters);
    await pastWindow();
    const sentBodies = new Map(system.stack.serviceBus.deadLetters(queue).map((m) => [m.messageId, m.body]));
    const summary = await run(queue, { filter: { reason: 'ValidationFailed', type: parcelRegisteredType } });
    expect(summary.counts).toEqual({ replayed: 2 });
    const queued = system.stack.serviceBus.messages(queue);
    expect(ids(queued)).toEqual(['a1', 'a2']);
    for (const m of queued) {
      expect(m.body).toEqual(sentBodies.get(m.messageId));
      expect(m.applicationProperties).toMatchObject({
        tenant: 't1',
        ReplayCount: 1,
        ReplayOriginalReason: 'ValidationFailed',
      });
      expect(m.applicationProperties.DeadLetterReason).toBeUndefined();
    }
    expect(ids(system.stack.serviceBus.deadLetters(queue))).toEqual(['a3', 'b1', 'b2']);

    const byId = await run(queue, { filter: { messageId: 'b2' } });
    expect(byId.counts).toEqual({ replayed: 1 });
    const later = new Date(Date.now() + 60_000);
    expect((await run(queue, { dryRun: true, filter: { since: later } })).counts).toEqual({});
    expect((await run(queue, { dryRun: true, filter: { until: later } })).counts).toEqual({
      'would-replay': 2,
    });
  });

  it('leaves a dead letter first sent inside the duplicate detection window, which the broker would drop', async () => {
    const queue = await queueWithDeadLetters(letters.slice(0, 1), 60_000);
    const summary = await run(queue, { duplicateWindowMs: 60_000 });
    expect(summary.counts).toEqual({ 'skipped-duplicate-window': 1 });
    expect(ids(system.stack.serviceBus.deadLetters(queue))).toEqual(['a1']);
    // Why: the broker acknowledges a resend of that MessageId and drops it.
    const sender = operator.createSender(queue);
    await sender.sendMessages({ messageId: 'a1', body: 'again' });
    await sender.close();
    expect(system.stack.serviceBus.messages(queue)).toEqual([]);
  });

  it('an interrupted run, run again, replays every selected dead letter once', async () => {
    const queue = await queueWithDeadLetters(letters);
    await pastWindow();
    const stop = new AbortController();
    const first = await run(queue, {
      signal: stop.signal,
      ratePerSec: 20,
      onProgress: ({ done }) => done === 2 && stop.abort(),
    });
    expect(first.interrupted).toBe(true);
    expect(first.counts).toEqual({ replayed: 2 });
    expect(system.stack.serviceBus.deadLetters(queue)).toHaveLength(3);
    const second = await run(queue, {});
    expect(second.counts).toEqual({ replayed: 3 });
    expect(ids(system.stack.serviceBus.messages(queue))).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
    expect(system.stack.serviceBus.deadLetters(queue)).toEqual([]);
  });

  it('--purge deletes only the selected dead letters; --max bounds a run', async () => {
    const queue = await queueWithDeadLetters(letters);
    expect((await run(queue, { action: 'purge', filter: { reason: 'PermanentSqlError' } })).counts).toEqual({
      purged: 2,
    });
    expect(ids(system.stack.serviceBus.deadLetters(queue))).toEqual(['a1', 'a2', 'a3']);
    expect((await run(queue, { action: 'purge', max: 1 })).counts).toEqual({ purged: 1 });
    expect(system.stack.serviceBus.deadLetters(queue)).toHaveLength(2);
    expect(system.stack.serviceBus.messages(queue)).toEqual([]);
  });

  it('names the missing Data Sender role, with the command that grants it, before touching anything', async () => {
    const queue = await queueWithDeadLetters(letters.slice(0, 2));
    await pastWindow();
    const { identity } = system.stack;
    const reader = identity.addIdentity('keyless-dlq-reader');
    identity.assignRole(
      reader.objectId,
      'Azure Service Bus Data Receiver',
      identity.resourceId('Microsoft.ServiceBus/namespaces', 'keyless-local'),
    );
    const credential = createCredential({ clientId: reader.clientId });
    const client = new ServiceBusClient(system.stack.file.serviceBus.fullyQualifiedNamespace, credential, {
      retryOptions: { maxRetries: 0 },
    });
    try {
      const readerIdentity = describeIdentity(
        (await credential.getToken('https://servicebus.azure.net/.default'))?.token ?? '',
      );
      const attempt = reprocessDeadLetters({
        client,
        queue,
        namespace: 'keyless-local.servicebus.windows.net',
        identity: readerIdentity,
        filter: {},
        duplicateWindowMs: windowMs,
      });
      await expect(attempt).rejects.toMatchObject({ name: 'AccessError', code: 'MissingRole' });
      const message = await attempt.catch((e: Error) => e.message);
      expect(message).toContain("needs the role 'Azure Service Bus Data Sender'");
      expect(message).toContain(`az role assignment create --assignee-object-id ${reader.objectId}`);
      expect(message).toContain('keyless-dlq-reader');
      expect(ids(system.stack.serviceBus.deadLetters(queue))).toEqual(['a1', 'a2']);
    } finally {
      await client.close();
    }
  });
});
