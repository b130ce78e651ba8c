import type { IdentityDescription } from './describe.ts';

export type AccessErrorCode =
  | 'TokenUnavailable'
  | 'MissingRole'
  | 'MissingDatabaseUser'
  | 'MissingDatabasePermission'
  | 'SchemaNotMigrated';

/**
 * A start that cannot work with the identity it has: no token, a missing role or database user,
 * an unmigrated schema. The message says who, where, what is missing and how to fix it; `main`
 * prints it unformatted for the person who has to act.
 */
export class AccessError extends Error {
  override readonly name = 'AccessError';
  readonly code: AccessErrorCode;
  constructor(code: AccessErrorCode, message: string, options: { cause: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The name of the identity as Azure lists it: the last segment of a user-assigned identity's resource id. */
export const identityName = (identity: IdentityDescription): string =>
  identity.resourceId?.split('/').at(-1) ?? '<name of the managed identity>';

/** "the user-assigned identity NAME (client id …, object id …)", for error messages. */
export const who = (identity: IdentityDescription): string =>
  `the ${identity.kind} identity ${identityName(identity)} (client id ${identity.clientId}, object id ${identity.objectId})`;
