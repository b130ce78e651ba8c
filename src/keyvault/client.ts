import type { TokenCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';

const loopback = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * A SecretClient on the shared credential. The SDK checks that the vault's host ends with the
 * host of the challenge's resource (vault.azure.net); a vault on a loopback address (the local
 * stand-in) cannot pass that check, so only there is it turned off.
 */
export function createSecretClient(vaultUrl: string, credential: TokenCredential): SecretClient {
  const host = new URL(vaultUrl).hostname;
  return new SecretClient(vaultUrl, credential, { disableChallengeResourceVerification: loopback.has(host) });
}
