import { randomUUID } from 'node:crypto';
import type { ServiceBusClient } from '@azure/service-bus';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { CloudEvent } from '../../src/cloudevents/cloud-event.ts';
import { loadConfig } from '../../src/config.ts';
import { inboxStatement } from '../../src/inbox/inbox.ts';
import { retryQueueName, retryQueuePrefix } from '../../src/retry/job.ts';
import { publishEvents } from '../../src/servicebus/publisher.ts';
import { startWorker, type Worker } from '../../src/worker.ts';
import {
  exampleRegistered,
  parcelRegisteredType,
  parcels,
  parcelsModule,
} from '../fixtures/parcels/events.ts';
import type { SystemStack } from './system-stack.ts';

/** Short delays so that a whole retry life fits in a test. */
export const fastRetries: Record<string, string> = {
  RETRY_IMMEDIATE_ATTEMPTS: '2',
  RETRY_IMMEDIATE_DELAY_MS: '20',
  RETRY_BASE_DELAY_MS: '200',
  RETRY_FACTOR: '2',
  RETRY_MAX_DELAY_MS: '1000',
  RETRY_RECONCILE_MS: '500',
  RETRY_CONCURRENCY: '4',
  SHUTDOWN_GRACE_MS: '5000',
};

export const testLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** Creates a queue on the stack's Service Bus that the publisher may send to. */
export function createTestQueue(
  system: SystemStack,
  options: { maxDeliveryCount?: number; lockDurationMs?: number } = {},
): string {
  const name = `retry-${randomUUID().slice(0, 8)}`;
  system.stack.serviceBus.createQueue(name, {
    lockDurationMs: options.lockDurationMs ?? 3_000,
    maxDeliveryCount: options.maxDeliveryCount ?? 10,
  });
  return name;
}

/** Grants the publisher sending on the whole namespace, for queues created per test. */
export function grantPublisherOnNamespace(system: SystemStack): void {
  const { identity, file } = system.stack;
  const namespaceId = identity.resourceId('Microsoft.ServiceBus/namespaces', 'keyless-local');
  identity.assignRole(file.identities.publisher.objectId, 'Azure Service Bus Data Sender', namespaceId);
}

/** The worker, in this process, on the fixture domain, on `queue` with its retries on `redisUrl`. */
export function startTestWorker(
  system: SystemStack,
  queue: string,
  redisUrl: string,
  env: Record<string, string> = {},
): Promise<Worker> {
  const config = loadConfig({
    ...system.stack.env('worker'),
    ...fastRetries,
    SERVICEBUS_QUEUE: queue,
    REDIS_URL: redisUrl,
    KEY_VAULT_SECRETS: '',
    ...env,
  });
  return startWorker(config, { handlers: parcels.handlers, logger: testLogger });
}

/**
 * For tests of the retry tier itself under failures that last: the breaker, which would hold the
 * messages instead of deferring them (test/system/outage.test.ts), kept out of the way.
 */
export const breakerOff = { BREAKER_THRESHOLD: '0' } as const;

/** HANDLERS_MODULE for a worker process on the fixture domain. */
export const fixtureHandlersEnv = { HANDLERS_MODULE: parcelsModule } as const;

/** Publishes `count` valid events of the fixture domain; returns their ids. */
export async function publishValidEvents(
  client: ServiceBusClient,
  queue: string,
  count: number,
): Promise<string[]> {
  const events: CloudEvent[] = Array.from({ length: count }, (_, n) => ({
    specversion: '1.0',
    id: `ev-${randomUUID()}`,
    source: '/tests/retry',
    type: parcelRegisteredType,
    data: exampleRegistered(n),
  }));
  const sender = client.createSender(queue);
  const summary = await publishEvents(sender, events);
  await sender.close();
  if (summary.failed > 0) throw new Error(`publishing failed: ${summary.failed}`);
  return events.map((e) => e.id);
}

/** How many of `ids` have their effect committed (rows in dbo.Inbox). */
export async function appliedCount(system: SystemStack, ids: readonly string[]): Promise<number> {
  const seen = await system.sql.query(inboxStatement('select-inbox-seen'), {
    ids: { type: 'nvarchar', value: JSON.stringify(ids) },
  });
  return seen.rows.length;
}

/** A BullMQ queue handle on the retry queue, to look at the jobs. */
export function inspectRetryQueue(redisUrl: string): { queue: Queue; close(): Promise<void> } {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const queue = new Queue(retryQueueName, { connection, prefix: retryQueuePrefix });
  // Tests kill this Redis on purpose: its connection errors are expected.
  connection.on('error', () => undefined);
  queue.on('error', () => undefined);
  return {
    queue,
    async close() {
      await queue.close();
      connection.disconnect();
    },
  };
}

/** Jobs that will still run. */
export async function liveJobs(queue: Queue): Promise<number> {
  const counts = await queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
  return Object.values(counts).reduce((a, b) => a + b, 0);
}
