import type { ServiceBusClient } from '@azure/service-bus';
import { AccessError, who } from '../identity/access-error.ts';
import type { IdentityDescription } from '../identity/describe.ts';
import { entityPath, type ServiceBusEntity } from './entity.ts';
import { serviceBusCode } from './errors.ts';

/**
 * Peeks the entity once at start: the first thing a receiver does needs the Data Receiver role,
 * and a missing role found here stops the start with the fix instead of logging on every retry.
 */
export async function checkServiceBusAccess(
  client: ServiceBusClient,
  entity: ServiceBusEntity,
  context: { namespace: string; identity: IdentityDescription },
): Promise<void> {
  const receiver =
    'queue' in entity
      ? client.createReceiver(entity.queue)
      : client.createReceiver(entity.topic, entity.subscription);
  try {
    await receiver.peekMessages(1);
  } catch (error: unknown) {
    if (serviceBusCode(error) !== 'UnauthorizedAccess') throw error;
    const namespaceName = context.namespace.split('.')[0];
    throw new AccessError(
      'MissingRole',
      [
        `Service Bus refused ${who(context.identity)} on '${entityPath(entity)}' in ${context.namespace}: it lacks the role 'Azure Service Bus Data Receiver'.`,
        'Grant it with:',
        `  az role assignment create --assignee-object-id ${context.identity.objectId} --assignee-principal-type ServicePrincipal --role "Azure Service Bus Data Receiver" --scope "$(az servicebus namespace show --name ${namespaceName} --resource-group <resource group> --query id -o tsv)"`,
      ].join('\n'),
      { cause: error },
    );
  } finally {
    await receiver.close();
  }
}
