import { randomUUID } from 'node:crypto';
import { ServiceBusClient } from '@azure/service-bus';
import { Queue } from 'bullmq';
import Long from 'long';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCredential } from '../../src/identity/credential.ts';
import { describeIdentity } from '../../src/identity/describe.ts';
import { type RetriesOptions, reprocessRetries } from '../../src/reprocess/retries.ts';
import { type RetryJobData, retryJobId } from '../../src/retry/job.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';

// The shared Redis on 6379, with a queue name and prefix of this run only (nothing is flushed).
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `{keyless-test-${randomUUID().slice(0, 8)}}`;
let system: SystemStack;
let operator: ServiceBusClient;
let operatorIdentity: ReturnType<typeof describeIdentity>;
let nextQueue = 0;
const namespace = 'keyless-local.servicebus.windows.net';
const sbScope = 'https://servicebus.azure.net/.default';

beforeAll(async () => {
  system = await startSystemStack({ migrate: false });
  const credential = createCredential({ clientId: system.stack.file.identities.operator.clientId });
  operatorIdentity = describeIdentity((await credential.getToken(sbScope))?.token ?? '');
  operator = new ServiceBusClient(system.stack.file.serviceBus.fullyQualifiedNamespace, credential);
});
afterAll(async () => {
  await operator?.close();
  await system?.close();
});

type Setup = { entity: string; jobs: Queue<RetryJobData>; close(): Promise<void> };

/** A queue with `ids` deferred by a real receiver, and a delayed retry job per message, per the contract. */
async function deferredWithJobs(ids: string[]): Promise<Setup> {
  const entity = `retries-${++nextQueue}`;
  system.stack.serviceBus.createQueue(entity, {});
  const sender = operator.createSender(entity);
  await sender.sendMessages(ids.map((messageId) => ({ messageId, body: { messageId } })));
  await sender.close();
  const receiver = operator.createReceiver(entity);
  const jobs = new Queue<RetryJobData>(entity, { connection: { url: redisUrl }, prefix });
  let left = ids.length;
  while (left > 0) {
    for (const m of await receiver.receiveMessages(left, { maxWaitTimeInMs: 1000 })) {
      await receiver.deferMessage(m);
      const data: RetryJobData = {
        entity,
        sequenceNumber: String(m.sequenceNumber),
        messageId: String(m.messageId),
        attempt: 2,
        lastError: { code: 'Unavailable', message: 'SQL error 40613: database not available' },
      };
      await jobs.add('retry', data, { jobId: retryJobId(data), delay: 600_000 });
      left--;
    }
  }
  await receiver.close();
  return {
    entity,
    jobs,
    async close() {
      await jobs.obliterate({ force: true });
      await jobs.close();
    },
  };
}

const run = (s: Setup, extra: Partial<RetriesOptions>) =>
  reprocessRetries({
    client: operator,
    queue: s.entity,
    namespace,
    identity: operatorIdentity,
    redisUrl,
    action: 'list',
    queueName: s.entity,
    prefix,
    ...extra,
  });

const deferredIds = (entity: string) =>
  system.stack.serviceBus
    .messages(entity)
    .filter((m) => m.state === 'deferred')
    .map((m) => m.messageId)
    .sort();
const deadLettered = (entity: string) =>
  system.stack.serviceBus
    .deadLetters(entity)
    .map((m) => `${m.messageId} ${m.reason}`)
    .sort();
const jobIds = async (s: Setup) => (await s.jobs.getJobs(['delayed'])).map((j) => j.data.messageId).sort();

describe('npm run reprocess -- retries', () => {
  it('--list and --dry-run show the jobs and change nothing', async () => {
    const s = await deferredWithJobs(['m1', 'm2', 'm3']);
    try {
      const lines: string[] = [];
      expect((await run(s, { onList: (l) => lines.push(l) })).counts).toEqual({ listed: 3 });
      expect(lines.join('\n')).toContain('message m2  attempt 2');
      expect((await run(s, { action: 'give-up', dryRun: true })).counts).toEqual({ 'would-give-up': 3 });
      expect((await run(s, { action: 'retry', dryRun: true, messageId: 'm1' })).counts).toEqual({
        'would-retry': 1,
      });
      expect(await jobIds(s)).toEqual(['m1', 'm2', 'm3']);
      expect(deferredIds(s.entity)).toEqual(['m1', 'm2', 'm3']);
    } finally {
      await s.close();
    }
  });

  it('--retry promotes exactly the selected job; --give-up dead-letters its message as RetriesExhausted', async () => {
    const s = await deferredWithJobs(['m1', 'm2', 'm3']);
    try {
      expect((await run(s, { action: 'retry', messageId: 'm1' })).counts).toEqual({ promoted: 1 });
      expect((await s.jobs.getJobs(['waiting'])).map((j) => j.data.messageId)).toEqual(['m1']);
      expect(await jobIds(s)).toEqual(['m2', 'm3']);

      expect((await run(s, { action: 'give-up', messageId: 'm2' })).counts).toEqual({ 'dead-lettered': 1 });
      expect(deadLettered(s.entity)).toEqual(['m2 RetriesExhausted']);
      const [letter] = system.stack.serviceBus.deadLetters(s.entity);
      expect(letter?.description).toContain('last error Unavailable: SQL error 40613');
      expect(deferredIds(s.entity)).toEqual(['m1', 'm3']);
      expect(await jobIds(s)).toEqual(['m3']);
    } finally {
      await s.close();
    }
  });

  it('an interrupted give-up, run again, dead-letters every message once and removes every job', async () => {
    const s = await deferredWithJobs(['m1', 'm2', 'm3', 'm4']);
    try {
      const stop = new AbortController();
      const first = await run(s, {
        action: 'give-up',
        signal: stop.signal,
        onProgress: ({ done }) => done === 1 && stop.abort(),
      });
      expect(first).toMatchObject({ interrupted: true, counts: { 'dead-lettered': 1 } });
      expect((await run(s, { action: 'give-up' })).counts).toEqual({ 'dead-lettered': 3 });
      expect(deadLettered(s.entity)).toEqual([
        'm1 RetriesExhausted',
        'm2 RetriesExhausted',
        'm3 RetriesExhausted',
        'm4 RetriesExhausted',
      ]);
      expect(deferredIds(s.entity)).toEqual([]);
      expect(await s.jobs.getJobCounts('delayed', 'waiting')).toEqual({ delayed: 0, waiting: 0 });
    } finally {
      await s.close();
    }
  });

  it('removes a job whose message is already settled as already-settled, losing nothing', async () => {
    const s = await deferredWithJobs(['m1']);
    try {
      // The message was settled elsewhere (a retry that won) but its job stayed.
      const receiver = operator.createReceiver(s.entity);
      const [job] = await s.jobs.getJobs(['delayed']);
      const [m] = await receiver.receiveDeferredMessages([Long.fromString(job?.data.sequenceNumber ?? '0')]);
      if (m) await receiver.completeMessage(m);
      await receiver.close();
      expect((await run(s, { action: 'give-up' })).counts).toEqual({ 'already-settled': 1 });
      expect(await jobIds(s)).toEqual([]);
      expect(deadLettered(s.entity)).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('names the missing Data Receiver role, with the command that grants it', async () => {
    const s = await deferredWithJobs(['m1']);
    const { identity } = system.stack;
    const sender = identity.addIdentity('keyless-retries-sender');
    identity.assignRole(
      sender.objectId,
      'Azure Service Bus Data Sender',
      identity.resourceId('Microsoft.ServiceBus/namespaces', 'keyless-local'),
    );
    const credential = createCredential({ clientId: sender.clientId });
    const client = new ServiceBusClient(system.stack.file.serviceBus.fullyQualifiedNamespace, credential, {
      retryOptions: { maxRetries: 0 },
    });
    try {
      const who = describeIdentity((await credential.getToken(sbScope))?.token ?? '');
      const attempt = run(s, { client, identity: who, action: 'give-up' });
      await expect(attempt).rejects.toMatchObject({ name: 'AccessError', code: 'MissingRole' });
      const message = await attempt.catch((e: Error) => e.message);
      expect(message).toContain("needs the role 'Azure Service Bus Data Receiver'");
      expect(message).toContain(`--assignee-object-id ${sender.objectId}`);
      expect(deferredIds(s.entity)).toEqual(['m1']);
      expect(await jobIds(s)).toEqual(['m1']);
    } finally {
      await client.close();
      await s.close();
    }
  });
});
