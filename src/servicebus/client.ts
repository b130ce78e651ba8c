import type { TokenCredential } from '@azure/identity';
import { RetryMode, ServiceBusClient } from '@azure/service-bus';
import type { Config } from '../config.ts';
import type { IdentityDescription } from '../identity/describe.ts';
import type { StartContext } from '../lifecycle.ts';
import { checkServiceBusAccess } from './access-check.ts';

/**
 * The one way a Service Bus client is made, for the worker and every script alike: the namespace,
 * the local stand-in's endpoint when set, and retries that give up in seconds, not minutes.
 */
export function createServiceBusClient(
  config: Pick<Config['serviceBus'], 'fullyQualifiedNamespace' | 'endpoint'>,
  credential: TokenCredential,
): ServiceBusClient {
  return new ServiceBusClient(config.fullyQualifiedNamespace, credential, {
    ...(config.endpoint ? { customEndpointAddress: config.endpoint } : {}),
    // The SDK's default waits a fixed 30 s between attempts, so a missing role took 90 s to show.
    retryOptions: {
      mode: RetryMode.Exponential,
      maxRetries: 3,
      retryDelayInMs: 1_000,
      maxRetryDelayInMs: 30_000,
    },
  });
}

/** The worker's client, checked at start: a missing role fails the start with the command that grants it. */
export async function startServiceBusClient(
  config: Config['serviceBus'],
  credential: TokenCredential,
  identity: IdentityDescription,
  ctx: StartContext,
): Promise<ServiceBusClient> {
  const client = createServiceBusClient(config, credential);
  ctx.closer.add('service bus client', () => client.close());
  await checkServiceBusAccess(client, config.entity, { namespace: config.fullyQualifiedNamespace, identity });
  return client;
}
