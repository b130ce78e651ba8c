import { randomUUID } from 'node:crypto';
import { ServiceBusClient } from '@azure/service-bus';
import { pino } from 'pino';
import { createCredential } from '../../src/identity/credential.ts';
import { type Breaker, createBreaker } from '../../src/pipeline/breaker.ts';
import type { Consumer } from '../../src/servicebus/consumer.ts';
import { parcels } from '../fixtures/parcels/events.ts';
import { createTestConsumer, type TestConsumerOptions } from '../helpers/test-consumer.ts';
import { createLocalCa } from '../stand-ins/ca.ts';
import {
  type IdentityStandIn,
  startIdentityStandIn,
  type UserAssignedIdentity,
} from '../stand-ins/identity.ts';
import { type ServiceBusStandIn, startServiceBusStandIn } from '../stand-ins/servicebus/index.ts';
import { trustCertificateAuthority } from '../stand-ins/tls-trust.ts';

/** Identity and Service Bus stand-ins with a worker (receiver) and a publisher (sender) identity. */
export type ConsumerStandIns = {
  identity: IdentityStandIn;
  bus: ServiceBusStandIn;
  worker: UserAssignedIdentity;
  publisher: UserAssignedIdentity;
  caCertPem: string;
  /** A client acting as `who`, closed by `cleanup`. */
  client(who: UserAssignedIdentity): ServiceBusClient;
  /** A fresh queue name, created. */
  queue(options?: Parameters<ServiceBusStandIn['createQueue']>[1]): string;
  /** A consumer on the worker's client with the fixture domain's schemas, closed by `cleanup`. */
  consumer(patch: Partial<TestConsumerOptions> & Pick<TestConsumerOptions, 'entity'>): Consumer;
  /** Closes what the test opened and waits until no connection is left. */
  cleanup(): Promise<void>;
  close(): Promise<void>;
};

export const { schemas } = parcels;

export const until = async (check: () => boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

/** A write path breaker that opens on one transient failure and moves only on the test's `record`s. */
export const manualBreaker = (): Breaker =>
  createBreaker({
    threshold: 1,
    probeMinMs: 600_000,
    probeMaxMs: 600_000,
    probe: async () => {},
    logger: pino({ level: 'silent' }),
  });

export async function startConsumerStandIns(): Promise<ConsumerStandIns> {
  const ca = createLocalCa();
  trustCertificateAuthority(ca.certPem);
  const identity = await startIdentityStandIn();
  // The identity source is fixed at the process's first getToken: set it before any client exists.
  process.env.IDENTITY_ENDPOINT = identity.endpoint;
  process.env.IDENTITY_HEADER = identity.header;
  delete process.env.AZURE_FEDERATED_TOKEN_FILE;
  const namespaceId = identity.resourceId('Microsoft.ServiceBus/namespaces', 'keyless-local');
  const worker = identity.addIdentity('keyless-worker');
  identity.assignRole(worker.objectId, 'Azure Service Bus Data Receiver', namespaceId);
  const publisher = identity.addIdentity('keyless-publisher');
  identity.assignRole(publisher.objectId, 'Azure Service Bus Data Sender', namespaceId);
  const bus = await startServiceBusStandIn({ authority: identity, ca, namespaceResourceId: namespaceId });
  const clients: ServiceBusClient[] = [];
  const consumers: Consumer[] = [];
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

  const client = (who: UserAssignedIdentity): ServiceBusClient => {
    const c = new ServiceBusClient(
      bus.fullyQualifiedNamespace,
      createCredential({ clientId: who.clientId }),
      {
        retryOptions: { maxRetries: 3, retryDelayInMs: 200, timeoutInMs: 10_000 },
      },
    );
    clients.push(c);
    return c;
  };

  return {
    identity,
    bus,
    worker,
    publisher,
    caCertPem: ca.certPem,
    client,
    queue(options) {
      const name = `q-${randomUUID().slice(0, 8)}`;
      bus.createQueue(name, options);
      return name;
    },
    consumer(patch) {
      const consumer = createTestConsumer({
        client: client(worker),
        logger,
        drainGraceMs: 2_000,
        settleTimeoutMs: 3_000,
        ...patch,
      });
      consumers.push(consumer);
      return consumer;
    },
    async cleanup() {
      await Promise.all(consumers.splice(0).map((c) => c.close()));
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await until(() => bus.openConnections() === 0, 5_000, 'all connections closed');
    },
    async close() {
      await bus.close();
      await identity.close();
    },
  };
}
