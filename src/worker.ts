import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { createCredential, describeRequestedIdentity, scopes } from './identity/credential.ts';
import { describeIdentity, type IdentityDescription } from './identity/describe.ts';
import { acquireFirstToken } from './identity/first-token.ts';
import { createSecretClient } from './keyvault/client.ts';
import { createSecretStore } from './keyvault/secret-store.ts';
import { createCloser } from './lifecycle.ts';

export type WorkerState = 'starting' | 'running' | 'draining' | 'stopped';

export type Worker = {
  readonly state: WorkerState;
  readonly identity: IdentityDescription;
  /** Stops taking messages, drains in-flight ones within the grace period, closes every client. */
  close(): Promise<{ name: string; error: unknown }[]>;
};

/**
 * Builds the worker from its config: one credential for every client, then each client in the
 * order the pipeline needs them. What is acquired is released in reverse order, also when start
 * fails half-way.
 */
export async function startWorker(
  config: Config,
  deps: { logger: Logger; signal?: AbortSignal },
): Promise<Worker> {
  const { logger, signal } = deps;
  const closer = createCloser();
  let state: WorkerState = 'starting';
  try {
    const requested = { kind: config.identity.credential, clientId: config.identity.clientId };
    const credential = createCredential(requested);
    const firstToken = await acquireFirstToken(credential, {
      scope: scopes.serviceBus,
      identity: describeRequestedIdentity(requested),
      timeoutMs: config.identity.startupTimeoutMs,
      signal,
      onRetry: (attempt, error, delayMs) =>
        logger.info(
          { attempt, delayMs: Math.round(delayMs), reason: (error as Error).message },
          'identity endpoint not ready; retrying',
        ),
    });
    const identity = describeIdentity(firstToken.token);
    logger.info(
      {
        identity: {
          kind: identity.kind,
          clientId: identity.clientId,
          objectId: identity.objectId,
          resourceId: identity.resourceId,
          tenantId: identity.tenantId,
        },
      },
      'identity ready',
    );

    if (config.keyVault.url && config.keyVault.secrets.length > 0) {
      const secrets = createSecretStore({
        client: createSecretClient(config.keyVault.url, credential),
        vaultUrl: config.keyVault.url,
        names: config.keyVault.secrets,
        refreshMs: config.keyVault.refreshMs,
        identity: () => identity,
        logger: logger.child({ component: 'keyvault' }),
      });
      await secrets.start();
      closer.add('key vault', () => secrets.close());
    }

    state = 'running';
    logger.info('worker running');
    return {
      get state() {
        return state;
      },
      identity,
      async close() {
        state = 'draining';
        const failures = await closer.closeAll();
        state = 'stopped';
        return failures;
      },
    };
  } catch (error: unknown) {
    await closer.closeAll();
    state = 'stopped';
    throw error;
  }
}
