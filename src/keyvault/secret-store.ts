import type { TokenCredential } from '@azure/identity';
import type { SecretClient } from '@azure/keyvault-secrets';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { defaults } from '../defaults.ts';
import type { IdentityDescription } from '../identity/describe.ts';
import { createPeriodicTask, type PeriodicTask, type StartContext } from '../lifecycle.ts';
import { createSecretClient } from './client.ts';
import { isKeyVaultError, toKeyVaultError } from './errors.ts';

export type Secret = { name: string; value: string; version: string };

export type SecretListener = (secret: Secret, previous: Secret) => void | Promise<void>;

export type SecretStoreOptions = {
  client: SecretClient;
  vaultUrl: string;
  names: readonly string[];
  /** How often every secret is re-read so that a rotated version is picked up. @defaultValue 300000 */
  refreshMs?: number;
  /** Who the worker is, for actionable errors (from the first token). */
  identity?: () => IdentityDescription | undefined;
  logger: Logger;
};

export type SecretStore = {
  /** Loads every configured secret; throws the first KeyVaultError so a bad start names its cause. */
  start(): Promise<void>;
  get(name: string): string;
  /** Tells `listener` when a secret gets a new version. Returns a function that unsubscribes. */
  onChange(listener: SecretListener): () => void;
  /** Re-reads every secret now (the interval calls this). */
  refresh(): Promise<void>;
  close(): Promise<void>;
};

/** Secrets read at start and kept fresh on an interval; users are told when one rotates. */
export function createSecretStore(options: SecretStoreOptions): SecretStore {
  const {
    client,
    vaultUrl,
    names,
    refreshMs = defaults.keyVaultRefreshMs,
    identity = () => undefined,
    logger,
  } = options;
  const current = new Map<string, Secret>();
  const listeners = new Set<SecretListener>();
  let task: PeriodicTask | undefined;
  let abort = new AbortController();

  const read = async (name: string): Promise<Secret> => {
    try {
      const s = await client.getSecret(name, { abortSignal: abort.signal });
      if (s.value === undefined) throw new Error('the secret has no value');
      return { name, value: s.value, version: s.properties.version ?? '' };
    } catch (error: unknown) {
      throw toKeyVaultError(error, { vaultUrl, secretName: name, identity: identity() });
    }
  };

  const refreshOnce = async (): Promise<void> => {
    for (const name of names) {
      let next: Secret;
      try {
        next = await read(name);
      } catch (error: unknown) {
        if (abort.signal.aborted) return;
        // The old value stays in use; a denied or deleted secret will not heal by itself.
        const code = isKeyVaultError(error) ? error.code : 'Unavailable';
        logger.warn({ err: error, secret: name, code }, 'secret refresh failed; keeping the current version');
        continue;
      }
      const previous = current.get(name);
      if (previous && previous.version !== next.version) {
        current.set(name, next);
        logger.info(
          { secret: name, version: next.version, previousVersion: previous.version },
          'secret rotated',
        );
        for (const listener of listeners) {
          try {
            await listener(next, previous);
          } catch (error: unknown) {
            logger.error({ err: error, secret: name }, 'a secret listener failed');
          }
        }
      }
    }
  };

  return {
    async start() {
      abort = new AbortController();
      for (const name of names) current.set(name, await read(name));
      logger.info({ vault: vaultUrl, secrets: names }, 'secrets loaded');
      if (names.length > 0) {
        task = createPeriodicTask({
          name: 'secret refresh',
          run: refreshOnce,
          intervalMs: refreshMs,
          onError: (error) => logger.warn({ err: error }, 'secret refresh failed'),
          logger,
        });
        task.start();
      }
    },
    get(name) {
      const s = current.get(name);
      if (!s) throw new Error(`secret '${name}' is not loaded: add it to KEY_VAULT_SECRETS`);
      return s.value;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    refresh: () => task?.runNow() ?? refreshOnce(),
    async close() {
      abort.abort();
      await task?.close();
    },
  };
}

/** The configured secrets, loaded before the pipeline starts and kept fresh; none when no vault is set. */
export async function startSecretStore(
  config: Config['keyVault'],
  credential: TokenCredential,
  identity: IdentityDescription,
  ctx: StartContext,
): Promise<SecretStore | undefined> {
  if (!config.url || config.secrets.length === 0) return undefined;
  const secrets = createSecretStore({
    client: createSecretClient(config.url, credential),
    vaultUrl: config.url,
    names: config.secrets,
    refreshMs: config.refreshMs,
    identity: () => identity,
    logger: ctx.logger.child({ component: 'keyvault' }),
  });
  await secrets.start();
  ctx.closer.add('key vault', () => secrets.close());
  return secrets;
}
