import type { IdentityDescription } from '../identity/describe.ts';

export type KeyVaultErrorCode =
  | 'Forbidden'
  | 'Unauthorized'
  | 'SecretNotFound'
  | 'SecretDisabled'
  | 'Unavailable';

/** A Key Vault failure the operator can act on: it names identity, vault, secret and the fix. */
export class KeyVaultError extends Error {
  readonly code: KeyVaultErrorCode;
  readonly secretName: string;
  constructor(code: KeyVaultErrorCode, secretName: string, message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'KeyVaultError';
    this.code = code;
    this.secretName = secretName;
  }
}

/** Detects a KeyVaultError by name, so one that crossed a module or realm boundary still counts. */
export const isKeyVaultError = (e: unknown): e is KeyVaultError =>
  e instanceof Error && e.name === 'KeyVaultError' && typeof (e as KeyVaultError).code === 'string';

const vaultName = (vaultUrl: string): string => new URL(vaultUrl).hostname.split('.')[0] ?? vaultUrl;

function who(identity: IdentityDescription | undefined): string {
  if (!identity) return 'the worker identity';
  const ids = [
    identity.clientId && `client id ${identity.clientId}`,
    identity.objectId && `object id ${identity.objectId}`,
  ];
  return `the ${identity.kind} identity (${ids.filter(Boolean).join(', ')})`;
}

/** Normalises an SDK error once, at the adapter boundary. */
export function toKeyVaultError(
  error: unknown,
  context: { vaultUrl: string; secretName: string; identity: IdentityDescription | undefined },
): KeyVaultError {
  const { vaultUrl, secretName, identity } = context;
  const status = (error as { statusCode?: number } | null)?.statusCode;
  const detail = error instanceof Error ? error.message : String(error);
  if (status === 403 && /disabled/i.test(detail)) {
    return new KeyVaultError(
      'SecretDisabled',
      secretName,
      `Secret '${secretName}' in Key Vault ${vaultUrl} is disabled: enable a version or set a new one.`,
      { cause: error },
    );
  }
  if (status === 403) {
    const assignee = identity?.objectId ?? '<object id of the identity>';
    return new KeyVaultError(
      'Forbidden',
      secretName,
      [
        `Key Vault refused ${who(identity)} reading secret '${secretName}' in ${vaultUrl}: it lacks the role 'Key Vault Secrets User' on the vault.`,
        'Grant it with:',
        `  az role assignment create --assignee-object-id ${assignee} --assignee-principal-type ServicePrincipal --role "Key Vault Secrets User" --scope "$(az keyvault show --name ${vaultName(vaultUrl)} --query id -o tsv)"`,
        `Key Vault said: ${detail}`,
      ].join('\n'),
      { cause: error },
    );
  }
  if (status === 401) {
    return new KeyVaultError(
      'Unauthorized',
      secretName,
      `Key Vault ${vaultUrl} did not accept the token of ${who(identity)} for secret '${secretName}': ${detail}`,
      { cause: error },
    );
  }
  if (status === 404) {
    return new KeyVaultError(
      'SecretNotFound',
      secretName,
      `Secret '${secretName}' does not exist in Key Vault ${vaultUrl} (or has no enabled version).`,
      { cause: error },
    );
  }
  return new KeyVaultError(
    'Unavailable',
    secretName,
    `Reading secret '${secretName}' from ${vaultUrl} failed: ${detail}`,
    {
      cause: error,
    },
  );
}
