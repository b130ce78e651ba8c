import type { ServiceBusClient } from '@azure/service-bus';
import { AccessError, identityName, who } from '../identity/access-error.ts';
import type { IdentityDescription } from '../identity/describe.ts';
import { type Grant, grantCommand, grants, placeholderNames } from '../identity/roles.ts';
import { createEntityReceiver, entityPath, type ServiceBusEntity } from './entity.ts';
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
  const receiver = createEntityReceiver(client, entity);
  try {
    await receiver.peekMessages(1);
  } catch (error: unknown) {
    if (serviceBusCode(error) !== 'UnauthorizedAccess') throw error;
    const path = entityPath(entity);
    const receiverGrant = grants.find(
      (g) => g.principal === 'worker' && g.role === 'Azure Service Bus Data Receiver',
    ) as Grant;
    const names = {
      ...placeholderNames,
      serviceBusNamespace: context.namespace.split('.')[0] ?? '',
      entityPath: path,
    };
    throw new AccessError(
      'MissingRole',
      [
        `Service Bus refused ${who(context.identity)} on '${path}' in ${context.namespace}: it lacks the role 'Azure Service Bus Data Receiver'.`,
        'Grant it with:',
        // At the queue, as provisioning grants it (the roles table), not the whole namespace.
        `  ${grantCommand(receiverGrant, { objectId: context.identity.objectId ?? '<object id>', name: identityName(context.identity) }, names)}`,
      ].join('\n'),
      { cause: error },
    );
  } finally {
    await receiver.close();
  }
}
