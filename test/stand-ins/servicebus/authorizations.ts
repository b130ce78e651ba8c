import type { Authority } from '../identity.ts';
import { BrokerFault, trackingSuffix } from './model.ts';
import type { ResolvedAddress } from './namespace.ts';

/** Service Bus names rights by claim; Azure RBAC grants them through these roles. */
export type Right = 'Listen' | 'Send';

const ROLES: Record<Right, readonly string[]> = {
  Listen: ['Azure Service Bus Data Receiver', 'Azure Service Bus Data Owner'],
  Send: ['Azure Service Bus Data Sender', 'Azure Service Bus Data Owner'],
};

type Grant = { principalId: string; expiresAtMs: number };

/** `sb://host/a/b/$management` → `a/b`: a token put for an entity also covers its management node. */
export const tokenKey = (audience: string): string =>
  audience
    .replace(/^sb:\/\/[^/]+/i, '')
    .replace(/^\/+|\/+$/g, '')
    .replace(/\/\$management$/i, '')
    .replace(/\/\$deadletterqueue$/i, '')
    .toLowerCase();

/**
 * The tokens one connection has put through `$cbs`, by entity. Service Bus checks claims per link,
 * when the link attaches and again for each management operation.
 */
export class ConnectionAuthorizations {
  readonly #authority: Authority;
  readonly #host: string;
  #grants = new Map<string, Grant>();

  constructor(authority: Authority, host: string) {
    this.#authority = authority;
    this.#host = host;
  }

  put(audience: string, grant: Grant): void {
    this.#grants.set(tokenKey(audience), grant);
  }

  #grantFor(path: string): Grant | undefined {
    const key = tokenKey(path);
    for (const [grantKey, grant] of this.#grants) {
      const covers = grantKey === '' || key === grantKey || key.startsWith(`${grantKey}/`);
      if (covers && grant.expiresAtMs > Date.now()) return grant;
    }
    return undefined;
  }

  /** Throws `amqp:unauthorized-access` as Service Bus words it. */
  demand(address: string, resolved: ResolvedAddress, right: Right): void {
    const resource = `sb://${this.#host}/${address.replace(/\/\$management$/i, '').toLowerCase()}`;
    const grant = this.#grantFor(address);
    if (!grant || !this.#authority.hasRole(grant.principalId, ROLES[right], resolved.scope)) {
      throw new BrokerFault(
        'amqp:unauthorized-access',
        `Unauthorized access. '${right}' claim(s) are required to perform this operation. Resource: '${resource}'.${trackingSuffix()}`,
        401,
      );
    }
  }
}
