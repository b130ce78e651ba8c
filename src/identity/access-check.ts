import type { ServiceBusClient } from '@azure/service-bus';
import type { ServiceBusEntity } from '../config.ts';
import type { SqlClient } from '../sql/client.ts';
import { isSqlError } from '../sql/errors.ts';
import type { IdentityDescription } from './describe.ts';

export type AccessErrorCode =
  | 'MissingRole'
  | 'MissingDatabaseUser'
  | 'MissingDatabasePermission'
  | 'SchemaNotMigrated';

/** A start that cannot work with the rights it has: says who, where, what is missing and how to grant it. */
export class AccessError extends Error {
  readonly code: AccessErrorCode;
  constructor(code: AccessErrorCode, message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'AccessError';
    this.code = code;
  }
}

/** The name of the identity as Azure lists it: the last segment of a user-assigned identity's resource id. */
const identityName = (identity: IdentityDescription): string =>
  identity.resourceId?.split('/').at(-1) ?? '<name of the managed identity>';

const who = (identity: IdentityDescription): string =>
  `the ${identity.kind} identity ${identityName(identity)} (client id ${identity.clientId}, object id ${identity.objectId})`;

/** The first error in an SDK error tree that carries a Service Bus `code`: retried attempts arrive wrapped. */
export function serviceBusCode(error: unknown, depth = 0): string | undefined {
  if (depth > 5 || !error || typeof error !== 'object') return undefined;
  const e = error as { code?: unknown; errors?: unknown[]; cause?: unknown };
  if (typeof e.code === 'string' && !(error instanceof AggregateError)) return e.code;
  for (const inner of e.errors ?? []) {
    const found = serviceBusCode(inner, depth + 1);
    if (found) return found;
  }
  return serviceBusCode(e.cause, depth + 1);
}

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
  const path = 'queue' in entity ? entity.queue : `${entity.topic}/subscriptions/${entity.subscription}`;
  try {
    await receiver.peekMessages(1);
  } catch (error: unknown) {
    if (serviceBusCode(error) !== 'UnauthorizedAccess') throw error;
    const namespaceName = context.namespace.split('.')[0];
    throw new AccessError(
      'MissingRole',
      [
        `Service Bus refused ${who(context.identity)} on '${path}' in ${context.namespace}: it lacks the role 'Azure Service Bus Data Receiver'.`,
        'Grant it with:',
        `  az role assignment create --assignee-object-id ${context.identity.objectId} --assignee-principal-type ServicePrincipal --role "Azure Service Bus Data Receiver" --scope "$(az servicebus namespace show --name ${namespaceName} --resource-group <resource group> --query id -o tsv)"`,
      ].join('\n'),
      { cause: error },
    );
  } finally {
    await receiver.close();
  }
}

/**
 * Reads the inbox once at start: fails with the fix when the database has no user for the identity,
 * the user cannot read, or the migrations have not run. (Write rights show on the first batch.)
 */
export async function checkSqlAccess(
  db: SqlClient,
  context: { server: string; database: string; identity: IdentityDescription | undefined },
): Promise<void> {
  try {
    await db.query('SELECT TOP (0) MessageId FROM dbo.Inbox');
  } catch (error: unknown) {
    if (!isSqlError(error) || !context.identity) throw error;
    const name = identityName(context.identity);
    const where = `database '${context.database}' on ${context.server}`;
    if (error.code === 'LoginFailed') {
      throw new AccessError(
        'MissingDatabaseUser',
        [
          `Azure SQL refused the login of ${who(context.identity)} to ${where}: the database has no user for it (${error.message}).`,
          `Create it, signed in to '${context.database}' as its Microsoft Entra admin:`,
          `  CREATE USER [${name}] FROM EXTERNAL PROVIDER;`,
          `  ALTER ROLE db_datareader ADD MEMBER [${name}];`,
          `  ALTER ROLE db_datawriter ADD MEMBER [${name}];`,
        ].join('\n'),
        { cause: error },
      );
    }
    if (error.code === 'PermissionDenied') {
      throw new AccessError(
        'MissingDatabasePermission',
        `${who(context.identity)} may not read dbo.Inbox in ${where} (${error.message}). Grant it with:\n  ALTER ROLE db_datareader ADD MEMBER [${name}];\n  ALTER ROLE db_datawriter ADD MEMBER [${name}];`,
        { cause: error },
      );
    }
    if (error.number === 208) {
      throw new AccessError(
        'SchemaNotMigrated',
        `dbo.Inbox does not exist in ${where}: run the migrations first (npm run migrate, as an identity with db_ddladmin).`,
        { cause: error },
      );
    }
    throw error;
  }
}
