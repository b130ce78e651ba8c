import { randomUUID } from 'node:crypto';
import { ManagedIdentityCredential } from '@azure/identity';
import { type ServiceBusReceivedMessage, ServiceBusClient } from '@azure/service-bus';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLocalCa } from '../stand-ins/ca.ts';
import { type IdentityStandIn, startIdentityStandIn, type UserAssignedIdentity } from '../stand-ins/identity.ts';
import { type ServiceBusStandIn, startServiceBusStandIn } from '../stand-ins/servicebus/index.ts';
import { trustCertificateAuthority } from '../stand-ins/tls-trust.ts';

let identity: IdentityStandIn;
let bus: ServiceBusStandIn;
let owner: UserAssignedIdentity;
let senderOnly: UserAssignedIdentity;
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
  bus = await startServiceBusStandIn({ authority: identity, ca, namespaceResourceId });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
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
});
