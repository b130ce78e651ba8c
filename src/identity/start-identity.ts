import type { Config } from '../config.ts';
import type { StartContext } from '../lifecycle.ts';
import { createCredential, describeRequestedIdentity, scopes } from './credential.ts';
import { describeIdentity, type IdentityDescription } from './describe.ts';
import { acquireFirstToken } from './first-token.ts';
import { type ObservedCredential, observeCredential, type TokenObserver } from './observed-credential.ts';

export type StartedIdentity = { credential: ObservedCredential; identity: IdentityDescription };

/**
 * The process's one credential, and who it is: the first token is waited for (a new container's
 * identity endpoint can refuse the first seconds) and read for the identity's ids. Readiness then
 * asks for an unexpired token.
 */
export async function startIdentity(
  config: Config['identity'],
  ctx: StartContext,
  observer: TokenObserver = {},
): Promise<StartedIdentity> {
  const requested = { kind: config.credential, clientId: config.clientId };
  const credential = observeCredential(createCredential(requested), observer);
  const firstToken = await acquireFirstToken(credential, {
    scope: scopes.serviceBus,
    identity: describeRequestedIdentity(requested),
    timeoutMs: config.startupTimeoutMs,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    onRetry: (attempt, error, delayMs) =>
      ctx.logger.info(
        { attempt, delayMs: Math.round(delayMs), reason: (error as Error).message },
        'identity endpoint not ready; retrying',
      ),
  });
  const identity = describeIdentity(firstToken.token);
  const { kind, clientId, objectId, resourceId, tenantId } = identity;
  ctx.logger.info({ identity: { kind, clientId, objectId, resourceId, tenantId } }, 'identity ready');
  ctx.readiness?.add('identity', async () => {
    // Answered from the identity library's cache while the token is fresh; asks the endpoint otherwise.
    const token = await credential.getToken(scopes.serviceBus);
    if (!token || token.expiresOnTimestamp <= Date.now()) throw new Error('no unexpired Service Bus token');
  });
  return { credential, identity };
}
