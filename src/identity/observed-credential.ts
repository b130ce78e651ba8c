import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';

export type TokenObserver = {
  /** A token the process had not seen before for this scope: the identity endpoint was asked. */
  refreshed?(scope: string, token: AccessToken): void;
  failed?(scope: string, error: unknown): void;
};

export type ObservedCredential = TokenCredential & {
  /** The newest token handed out for a scope, if any. */
  lastToken(scope: string): AccessToken | undefined;
};

/**
 * Wraps the shared credential to see what the clients' token requests do. The identity library
 * answers most calls from its cache; a token with an expiry not seen before for the scope is one
 * the endpoint issued, which is what a refresh count must count.
 */
export function observeCredential(inner: TokenCredential, observer: TokenObserver = {}): ObservedCredential {
  const last = new Map<string, AccessToken>();
  return {
    async getToken(scopes: string | string[], options?: GetTokenOptions) {
      const scope = Array.isArray(scopes) ? scopes.join(' ') : scopes;
      let token: AccessToken | null;
      try {
        token = await inner.getToken(scopes, options);
      } catch (error: unknown) {
        observer.failed?.(scope, error);
        throw error;
      }
      if (token) {
        const previous = last.get(scope);
        if (previous?.token !== token.token) {
          last.set(scope, token);
          observer.refreshed?.(scope, token);
        }
      }
      return token;
    },
    lastToken: (scope) => last.get(scope),
  };
}
