import { createPublicKey, createVerify, type JsonWebKey } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCredential, describeRequestedIdentity } from '../../src/identity/credential.ts';
import { describeIdentity } from '../../src/identity/describe.ts';
import { acquireFirstToken } from '../../src/identity/first-token.ts';
import { type LocalAzure, startLocalAzure } from '../helpers/azure-stand-ins.ts';

// MSAL's cache is process-wide, so
// each test asks for its own audience or identity to keep the cache of one test out of another.
let azure: LocalAzure;
beforeAll(async () => {
  azure = await startLocalAzure();
});
afterAll(async () => {
  await azure.close();
});

const fetchesFor = (resource: string) =>
  azure.identity.requests.filter((r) => r.resource === resource && r.status === 200);

describe('the managed identity credential against the Container Apps identity endpoint', () => {
  it('fetches a token for the configured client id and reuses it from the cache', async () => {
    const worker = azure.identity.addIdentity('worker-cache');
    const credential = createCredential({ clientId: worker.clientId });
    const first = await credential.getToken('https://cache.example/.default');
    const second = await credential.getToken('https://cache.example/.default');

    expect(first?.token).toBeTruthy();
    expect(second?.token).toBe(first?.token);
    expect(fetchesFor('https://cache.example')).toHaveLength(1);
    expect(fetchesFor('https://cache.example')[0]?.clientId).toBe(worker.clientId);
    expect(describeIdentity(first?.token ?? '')).toMatchObject({
      kind: 'user-assigned',
      clientId: worker.clientId,
      objectId: worker.objectId,
      resourceId: worker.resourceId,
      tenantId: azure.identity.tenantId,
      audience: 'https://cache.example',
    });
  });

  it('publishes the key its tokens verify with', async () => {
    const worker = azure.identity.addIdentity('worker-keys');
    const token = await createCredential({ clientId: worker.clientId }).getToken(
      'https://keys.example/.default',
    );
    const [header, body, signature] = (token?.token ?? '').split('.') as [string, string, string];
    const { keys } = (await (await fetch(azure.identity.keysUrl)).json()) as {
      keys: (JsonWebKey & { kid: string })[];
    };
    const kid = JSON.parse(Buffer.from(header, 'base64url').toString()).kid as string;
    const jwk = keys.find((k) => k.kid === kid);
    expect(jwk).toBeDefined();

    const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    const valid = createVerify('RSA-SHA256')
      .update(`${header}.${body}`)
      .verify(key, Buffer.from(signature, 'base64url'));
    expect(valid).toBe(true);
  });

  it('refreshes a short-lived token once it has expired', async () => {
    azure.identity.setTokenLifetimeSec(3);
    const worker = azure.identity.addIdentity('worker-refresh');
    const credential = createCredential({ clientId: worker.clientId });
    const first = await credential.getToken('https://refresh.example/.default');
    await sleep(3_200);
    const second = await credential.getToken('https://refresh.example/.default');

    expect(second?.token).not.toBe(first?.token);
    expect(second?.expiresOnTimestamp).toBeGreaterThan(first?.expiresOnTimestamp ?? Number.POSITIVE_INFINITY);
    expect(second?.expiresOnTimestamp).toBeGreaterThan(Date.now());
    expect(fetchesFor('https://refresh.example')).toHaveLength(2);
    azure.identity.setTokenLifetimeSec(3600);
  });

  it('gets the first token once an endpoint that was down comes back', async () => {
    const worker = azure.identity.addIdentity('worker-recover');
    const credential = createCredential({ clientId: worker.clientId });
    await azure.identity.down();
    // Longer than the SDK's own retries (about 5 s), so that start's backoff has to carry on.
    setTimeout(() => void azure.identity.up(), 7_000);
    const retries: unknown[] = [];

    const token = await acquireFirstToken(credential, {
      scope: 'https://recover.example/.default',
      identity: describeRequestedIdentity({ clientId: worker.clientId }),
      timeoutMs: 20_000,
      initialDelayMs: 200,
      onRetry: (_attempt, error) => retries.push(error),
    });

    expect(describeIdentity(token.token).clientId).toBe(worker.clientId);
    expect(retries.length).toBeGreaterThan(0);
  });

  it('gets the first token after the endpoint answered 429 with Retry-After', async () => {
    const worker = azure.identity.addIdentity('worker-throttled');
    const credential = createCredential({ clientId: worker.clientId });
    azure.identity.failNext(2, { status: 429, retryAfterSec: 1 });

    const token = await acquireFirstToken(credential, {
      scope: 'https://throttled.example/.default',
      identity: describeRequestedIdentity({ clientId: worker.clientId }),
      timeoutMs: 20_000,
    });

    expect(describeIdentity(token.token).objectId).toBe(worker.objectId);
    expect(azure.identity.requests.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(2);
  });

  it('fails the start with the identity asked for and what the endpoint answered', async () => {
    const unknownClientId = '00000000-0000-0000-0000-00000000abcd';
    const credential = createCredential({ clientId: unknownClientId });

    const failure = acquireFirstToken(credential, {
      scope: 'https://unknown.example/.default',
      identity: describeRequestedIdentity({ clientId: unknownClientId }),
      timeoutMs: 1_000,
      initialDelayMs: 200,
    });

    await expect(failure).rejects.toMatchObject({ name: 'AccessError', code: 'TokenUnavailable' });
    await expect(failure).rejects.toThrow(
      new RegExp(
        `user-assigned managed identity with client id ${unknownClientId}[\\s\\S]*Identity not found`,
      ),
    );
  });
});
