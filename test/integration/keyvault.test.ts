import type { AccessToken, TokenCredential } from '@azure/identity';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCredential } from '../../src/identity/credential.ts';
import { describeIdentity } from '../../src/identity/describe.ts';
import { createSecretClient } from '../../src/keyvault/client.ts';
import { createSecretStore, type Secret, type SecretStore } from '../../src/keyvault/secret-store.ts';
import { type LocalAzure, startLocalAzure } from '../helpers/azure-stand-ins.ts';
import type { UserAssignedIdentity } from '../stand-ins/identity.ts';
import { type KeyVaultStandIn, startKeyVaultStandIn } from '../stand-ins/keyvault.ts';

const logger = pino({ level: 'silent' });
let azure: LocalAzure;
let vault: KeyVaultStandIn;
let reader: UserAssignedIdentity;
let outsider: UserAssignedIdentity;
const stores: SecretStore[] = [];

beforeAll(async () => {
  azure = await startLocalAzure();
  const resourceId = azure.identity.resourceId('Microsoft.KeyVault/vaults', 'keyless-local');
  vault = await startKeyVaultStandIn({ authority: azure.identity, ca: azure.ca, resourceId });
  reader = azure.identity.addIdentity('worker');
  azure.identity.assignRole(reader.objectId, 'Key Vault Secrets User', resourceId);
  outsider = azure.identity.addIdentity('no-role');
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await vault.close();
  await azure.close();
});

const storeFor = (
  identity: UserAssignedIdentity,
  names: string[],
  refreshMs = 60_000,
  token?: AccessToken | null,
) => {
  const credential = createCredential({ clientId: identity.clientId });
  const store = createSecretStore({
    client: createSecretClient(vault.url, credential),
    vaultUrl: vault.url,
    names,
    refreshMs,
    identity: () => (token ? describeIdentity(token.token) : undefined),
    logger,
  });
  stores.push(store);
  return { store, credential };
};

describe('secrets from Key Vault with the managed identity', () => {
  it('loads the configured secrets at start', async () => {
    vault.setSecret('partner-api-key', 'v1-value');
    const { store } = storeFor(reader, ['partner-api-key']);
    await store.start();
    expect(store.get('partner-api-key')).toBe('v1-value');
    // The first request carries no token: the SDK learns the audience from the 401 challenge.
    expect(vault.requests.slice(0, 2).map((r) => r.status)).toEqual([401, 200]);
  });

  it('picks up a rotated secret without a restart and tells its users', async () => {
    vault.setSecret('signing-key', 'old');
    const { store } = storeFor(reader, ['signing-key'], 1_000);
    await store.start();
    const changes: Secret[] = [];
    store.onChange((secret) => {
      changes.push(secret);
    });

    const newVersion = vault.setSecret('signing-key', 'new');
    await expect.poll(() => changes.length, { timeout: 5_000 }).toBe(1);

    expect(store.get('signing-key')).toBe('new');
    expect(changes[0]).toEqual({ name: 'signing-key', value: 'new', version: newVersion });
  });

  it('stops with the identity, vault, secret, missing role and the command that grants it', async () => {
    vault.setSecret('denied-secret', 'x');
    const credential = createCredential({ clientId: outsider.clientId });
    const token = await credential.getToken('https://vault.azure.net/.default');
    const { store } = storeFor(outsider, ['denied-secret'], 60_000, token);

    const start = store.start();

    await expect(start).rejects.toMatchObject({
      name: 'KeyVaultError',
      code: 'Forbidden',
      secretName: 'denied-secret',
    });
    const message = await start.catch((e: Error) => e.message);
    expect(message).toContain(`client id ${outsider.clientId}`);
    expect(message).toContain(vault.url);
    expect(message).toContain("'denied-secret'");
    expect(message).toContain("'Key Vault Secrets User'");
    expect(message).toContain(
      `az role assignment create --assignee-object-id ${outsider.objectId} --assignee-principal-type ServicePrincipal --role "Key Vault Secrets User"`,
    );
  });

  it('names a secret that does not exist', async () => {
    const { store } = storeFor(reader, ['never-created']);
    await expect(store.start()).rejects.toMatchObject({
      code: 'SecretNotFound',
      secretName: 'never-created',
    });
    await expect(store.start()).rejects.toThrow(/Secret 'never-created' does not exist/);
  });

  it('says so when the latest version is disabled', async () => {
    const version = vault.setSecret('switched-off', 'x');
    vault.setEnabled('switched-off', version, false);
    const { store } = storeFor(reader, ['switched-off']);
    await expect(store.start()).rejects.toMatchObject({ code: 'SecretDisabled' });
  });

  it('keeps the current value when a refresh fails, and recovers', async () => {
    vault.setSecret('flaky', 'one');
    const { store } = storeFor(reader, ['flaky']);
    await store.start();
    vault.failNext(100, { status: 503 });
    vault.setSecret('flaky', 'two');
    await store.refresh();
    expect(store.get('flaky')).toBe('one');

    vault.clearFaults();
    await store.refresh();
    expect(store.get('flaky')).toBe('two');
  });

  it('refuses a token issued for another audience', async () => {
    vault.setSecret('audience-check', 'x');
    const serviceBusToken: TokenCredential = {
      getToken: async () => ({
        token: azure.identity.issueToken(reader, 'https://servicebus.azure.net'),
        expiresOnTimestamp: Date.now() + 3_600_000,
      }),
    };
    const client = createSecretClient(vault.url, serviceBusToken);

    await expect(client.getSecret('audience-check')).rejects.toMatchObject({ statusCode: 401 });
    await expect(client.getSecret('audience-check')).rejects.toThrow(/Invalid audience/);
  });

  it('refuses an expired token', async () => {
    vault.setSecret('expiry-check', 'x');
    const expired: TokenCredential = {
      getToken: async () => ({
        token: azure.identity.issueToken(reader, 'https://vault.azure.net', -60),
        expiresOnTimestamp: Date.now() + 3_600_000,
      }),
    };
    const client = createSecretClient(vault.url, expired);
    await expect(client.getSecret('expiry-check')).rejects.toThrow(/expired/);
  });

  it('lists secrets page by page', async () => {
    for (let i = 0; i < 30; i++) vault.setSecret(`paged-${String(i).padStart(2, '0')}`, String(i));
    const client = createSecretClient(vault.url, createCredential({ clientId: reader.clientId }));
    const names: string[] = [];
    for await (const p of client.listPropertiesOfSecrets())
      if (p.name.startsWith('paged-')) names.push(p.name);
    expect(names).toHaveLength(30);
    expect(vault.requests.filter((r) => r.path === '/secrets' && r.status === 200).length).toBeGreaterThan(1);
  });
});
