import { AccessError, identityName, who } from '../identity/access-error.ts';
import type { IdentityDescription } from '../identity/describe.ts';
import { serviceBusCode } from '../servicebus/errors.ts';
import { isSqlError } from '../sql/errors.ts';

/** The Azure role a Service Bus step needs. */
export type ServiceBusRole = 'Azure Service Bus Data Receiver' | 'Azure Service Bus Data Sender';

/**
 * Runs `step`; a Service Bus refusal becomes an AccessError naming the identity, the entity, the
 * role the step needs and the command that grants it, scoped to the one queue (least privilege).
 */
export async function needServiceBusRole<T>(
  step: () => Promise<T>,
  context: {
    identity: IdentityDescription;
    namespace: string;
    queue: string;
    role: ServiceBusRole;
    action: string;
  },
): Promise<T> {
  try {
    return await step();
  } catch (error: unknown) {
    if (serviceBusCode(error) !== 'UnauthorizedAccess') throw error;
    const { identity, namespace, queue, role } = context;
    const namespaceName = namespace.split('.')[0];
    throw new AccessError(
      'MissingRole',
      [
        `Service Bus refused ${who(identity)} on '${queue}' in ${namespace}: to ${context.action} it needs the role '${role}'.`,
        'Grant it with:',
        `  az role assignment create --assignee-object-id ${identity.objectId} --assignee-principal-type ServicePrincipal --role "${role}" --scope "$(az servicebus queue show --namespace-name ${namespaceName} --name ${queue} --resource-group <resource group> --query id -o tsv)"`,
      ].join('\n'),
      { cause: error },
    );
  }
}

/** Runs `step`; a permission error becomes an AccessError with the `ALTER ROLE` lines that fix it. */
export async function needDatabaseRoles<T>(
  step: () => Promise<T>,
  context: {
    identity: IdentityDescription | undefined;
    database: string;
    roles: readonly string[];
    action: string;
  },
): Promise<T> {
  try {
    return await step();
  } catch (error: unknown) {
    if (!isSqlError(error) || error.code !== 'PermissionDenied' || !context.identity) throw error;
    const name = identityName(context.identity);
    throw new AccessError(
      'MissingDatabasePermission',
      [
        `Azure SQL refused ${who(context.identity)} in database '${context.database}': to ${context.action} it needs ${context.roles.join(' + ')} (${error.message}).`,
        `Grant it, signed in to '${context.database}' as its Microsoft Entra admin:`,
        ...context.roles.map((r) => `  ALTER ROLE ${r} ADD MEMBER [${name}];`),
      ].join('\n'),
      { cause: error },
    );
  }
}
