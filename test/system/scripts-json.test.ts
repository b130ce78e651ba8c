import { ServiceBusClient } from '@azure/service-bus';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCredential } from '../../src/identity/credential.ts';
import { type RetryJobData, retryJobId, retryQueueName, retryQueuePrefix } from '../../src/retry/job.ts';
import { runScript } from '../helpers/run-script.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';
import { type RedisServer, startRedisServer } from '../stand-ins/redis-server.ts';

// The scripts' --json on a whole local stack: what each prints is one JSON document on stdout, so
// that a pipe into jq or another program reads the result and nothing else.
const queue = 'orders-cli';
let system: SystemStack;
let redis: RedisServer;

beforeAll(async () => {
  system = await startSystemStack({ queue });
  redis = await startRedisServer();
}, 60_000);
afterAll(async () => {
  await redis?.close();
  await system?.close();
});

const script = (name: string, args: string[], who: 'worker' | 'publisher' | 'operator') =>
  runScript([`scripts/${name}.ts`, ...args], system.stack.env(who));
const json = <T>(stdout: string) => JSON.parse(stdout) as T;

describe('--json on the local stack', () => {
  it('publish prints its summary, and sql the rows', async () => {
    const published = await script('publish', ['--count', '3', '--json'], 'publisher');
    expect(published.code, published.out).toBe(0);
    expect(json(published.stdout)).toEqual({ sent: 3, failed: 0, batches: 1, failures: [] });
    const rows = await script('sql', ['SELECT COUNT(*) AS events FROM dbo.Inbox', '--json'], 'worker');
    expect(rows.code, rows.out).toBe(0);
    expect(json(rows.stdout)).toEqual({ rowCount: 1, rows: [{ events: 0 }] });
  });

  it('reprocess dlq prints the plan of a dry run, then replays everything with --yes', async () => {
    const operator = new ServiceBusClient(
      system.stack.file.serviceBus.fullyQualifiedNamespace,
      createCredential({ clientId: system.stack.file.identities.operator.clientId }),
    );
    try {
      const receiver = operator.createReceiver(queue);
      for (const m of await receiver.receiveMessages(3, { maxWaitTimeInMs: 2_000 }))
        await receiver.deadLetterMessage(m, {
          deadLetterReason: 'ValidationFailed',
          deadLetterErrorDescription: 'a test put it there',
        });
      await receiver.close();
    } finally {
      await operator.close();
    }
    expect(system.stack.serviceBus.deadLetters(queue)).toHaveLength(3);
    const args = ['dlq', '--duplicate-window', '0', '--json'];
    const plan = await script('reprocess', [...args, '--dry-run'], 'operator');
    expect(plan.code, plan.out).toBe(0);
    const planned = json<{ counts: object; plan: string[]; dryRun: boolean }>(plan.stdout);
    expect(planned).toMatchObject({ dryRun: true, counts: { 'would-replay': 3 } });
    expect(planned.plan).toHaveLength(3);
    expect(planned.plan[0]).toMatch(/^would replay: \S+ #\d+ ValidationFailed/);
    const replay = await script('reprocess', [...args, '--yes'], 'operator');
    expect(replay.code, replay.out).toBe(0);
    expect(json(replay.stdout)).toMatchObject({
      command: 'dlq',
      dryRun: false,
      counts: { replayed: 3 },
      failures: [],
    });
    expect(system.stack.serviceBus.deadLetters(queue)).toHaveLength(0);
  }, 60_000);

  it('reprocess retries --list prints the waiting retries with their fields', async () => {
    const jobs = new Queue<RetryJobData>(retryQueueName, {
      connection: { url: redis.url },
      prefix: retryQueuePrefix,
    });
    const data: RetryJobData = {
      entity: queue,
      sequenceNumber: '42',
      messageId: 'order-42',
      attempt: 3,
      lastError: { code: 'Unavailable', message: 'SQL error 40613: database not available' },
    };
    try {
      await jobs.add('retry', data, { jobId: retryJobId(data), delay: 600_000 });
      const listed = await runScript(['scripts/reprocess.ts', 'retries', '--list', '--json'], {
        ...system.stack.env('operator'),
        REDIS_URL: redis.url,
      });
      expect(listed.code, listed.out).toBe(0);
      expect(json(listed.stdout)).toMatchObject({
        command: 'retries',
        counts: { listed: 1 },
        jobs: [{ messageId: 'order-42', attempt: 3, lastError: data.lastError }],
      });
    } finally {
      await jobs.close();
    }
  });
});
