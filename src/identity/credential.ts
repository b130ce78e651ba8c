import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import type { CredentialKind } from '../config.ts';

export type CredentialOptions = {
  /** @defaultValue 'managed-identity' */
  kind?: CredentialKind;
  /** Client id of the user-assigned identity; absent = system-assigned. */
  clientId?: string | undefined;
};

/**
 * The one credential of the process, shared by every client. No chain in production: a chain
 * probes sources one after another and stalls start on their timeouts. The local stand-in is
 * reached through this same managed-identity path (IDENTITY_ENDPOINT / IDENTITY_HEADER).
 */
export function createCredential(options: CredentialOptions = {}): TokenCredential {
  const { kind = 'managed-identity', clientId } = options;
  if (kind === 'developer') {
    return new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
  }
  return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
}

/** How the identity in use is named in errors and logs before any token told us more. */
export function describeRequestedIdentity(options: CredentialOptions): string {
  if (options.kind === 'developer') return 'the developer sign-in (DefaultAzureCredential)';
  return options.clientId
    ? `the user-assigned managed identity with client id ${options.clientId}`
    : 'the system-assigned managed identity';
}

/** Token audiences of the services the worker talks to. */
export const scopes = {
  serviceBus: 'https://servicebus.azure.net/.default',
  keyVault: 'https://vault.azure.net/.default',
  sql: 'https://database.windows.net/.default',
} as const;
