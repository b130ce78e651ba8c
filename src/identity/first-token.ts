import { setTimeout as sleep } from 'node:timers/promises';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { defaults } from '../defaults.ts';
import { AccessError } from './access-error.ts';

export type FirstTokenOptions = {
  scope: string;
  /** Total time to keep trying. @defaultValue 60000 */
  timeoutMs?: number;
  /** First pause between attempts; doubles up to maxDelayMs. @defaultValue 250 */
  initialDelayMs?: number;
  /** @defaultValue 5000 */
  maxDelayMs?: number;
  /** Names the identity in the error, e.g. from describeRequestedIdentity. */
  identity: string;
  signal?: AbortSignal;
  onRetry?: (attempt: number, error: unknown, delayMs: number) => void;
};

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Gets the process's first token, retrying with backoff: in a new container the platform's
 * identity endpoint can refuse connections for the first seconds. Gives up with an error that
 * names the identity asked for and what the endpoint last answered.
 */
export async function acquireFirstToken(
  credential: TokenCredential,
  options: FirstTokenOptions,
): Promise<AccessToken> {
  const {
    scope,
    timeoutMs = defaults.identityStartupTimeoutMs,
    initialDelayMs = 250,
    maxDelayMs = 5_000,
    identity,
    signal,
    onRetry,
  } = options;
  const deadline = Date.now() + timeoutMs;
  let delay = initialDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      const token = await credential.getToken(scope, { abortSignal: signal });
      if (token) return token;
      throw new Error('the credential returned no token');
    } catch (error: unknown) {
      signal?.throwIfAborted();
      const wait = Math.min(delay * (0.8 + Math.random() * 0.4), maxDelayMs);
      if (Date.now() + wait > deadline) {
        throw new AccessError(
          'TokenUnavailable',
          `Could not get a token for ${identity} (scope ${scope}) after ${attempt} attempt(s) in ${Math.round(timeoutMs / 1000)} s. The identity endpoint answered: ${messageOf(error)}`,
          { cause: error },
        );
      }
      onRetry?.(attempt, error, wait);
      await sleep(wait, undefined, { signal });
      delay = Math.min(delay * 2, maxDelayMs);
    }
  }
}
