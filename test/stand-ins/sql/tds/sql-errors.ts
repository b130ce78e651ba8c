import { randomUUID } from 'node:crypto';
import type { SqlServerErrorInfo } from '../engine-api.ts';

/**
 * SQL Server's own wording, severity and state for the error numbers the stand-in raises itself
 * (faults, login, transaction manager). `detail` fills what Azure would name (object, database).
 */
export function sqlError(
  number: number,
  detail: { database?: string; server?: string; object?: string } = {},
): SqlServerErrorInfo {
  const database = detail.database ?? 'db';
  const object = detail.object ?? 'dbo.t';
  switch (number) {
    case 1205:
      return {
        number,
        state: 45,
        severity: 13,
        message: `Transaction (Process ID ${60 + Math.floor(Math.random() * 40)}) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction.`,
      };
    case 40501:
      return {
        number,
        state: 1,
        severity: 20,
        message: `The service is currently busy. Retry the request after 10 seconds. Incident ID: {${randomUUID().toUpperCase()}}. Code: 4194307.`,
      };
    case 40613:
      return {
        number,
        state: 1,
        severity: 17,
        message: `Database '${database}' on server '${detail.server ?? 'localhost'}' is not currently available.  Please retry the connection later.  If the problem persists, contact customer support, and provide them the session tracing ID of '{${randomUUID().toUpperCase()}}'.`,
      };
    case 40197:
      return {
        number,
        state: 1,
        severity: 20,
        message:
          'The service has encountered an error processing your request. Please try again. Error code 4815.',
      };
    case 49918:
    case 49919:
    case 49920:
      return {
        number,
        state: 1,
        severity: 16,
        message: 'Cannot process request. Too many operations in progress for subscription.',
      };
    case 10928:
      return {
        number,
        state: 1,
        severity: 16,
        message: 'Resource ID : 1. The request limit for the database is 60 and has been reached.',
      };
    case 10929:
      return {
        number,
        state: 1,
        severity: 16,
        message:
          'Resource ID : 1. The request limit for the database is 60 and has been reached. However, the server is currently too busy to support requests greater than 60 for this database.',
      };
    case 2627:
      return {
        number,
        state: 1,
        severity: 14,
        message: `Violation of PRIMARY KEY constraint 'PK_${object.replace(/^.*\./, '')}'. Cannot insert duplicate key in object '${object}'. The duplicate key value is (1).`,
      };
    case 2601:
      return {
        number,
        state: 1,
        severity: 14,
        message: `Cannot insert duplicate key row in object '${object}' with unique index 'UX_${object.replace(/^.*\./, '')}'. The duplicate key value is (1).`,
      };
    case 229:
      return {
        number,
        state: 5,
        severity: 14,
        message: `The SELECT permission was denied on the object '${object.replace(/^.*\./, '')}', database '${database}', schema 'dbo'.`,
      };
    case 230:
      return {
        number,
        state: 1,
        severity: 14,
        message: `The SELECT permission was denied on the column 'id' of the object '${object.replace(/^.*\./, '')}', database '${database}', schema 'dbo'.`,
      };
    case 4060:
      return {
        number,
        state: 1,
        severity: 11,
        message: `Cannot open database "${database}" requested by the login. The login failed.`,
      };
    case 3902:
      return {
        number,
        state: 1,
        severity: 16,
        message: 'The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION.',
      };
    case 3903:
      return {
        number,
        state: 1,
        severity: 16,
        message: 'The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION.',
      };
    default:
      return {
        number,
        state: 1,
        severity: 16,
        message: `SQL Server error ${number} (raised by the stand-in's fault injection).`,
      };
  }
}

/** 18456 as Azure SQL words it: a token login names no user, only `<token-identified principal>`. */
export function loginFailed(principal: string, reason?: string): SqlServerErrorInfo {
  return {
    number: 18456,
    state: 1,
    severity: 14,
    message: `Login failed for user '${principal}'.${reason ? ` ${reason}` : ''}`,
  };
}

/** Severity 20 and above ends the connection, as SQL Server does after sending the error. */
export const terminatesConnection = (e: SqlServerErrorInfo): boolean => e.severity >= 20;
