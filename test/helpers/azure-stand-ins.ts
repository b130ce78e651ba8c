import { createLocalCa, type LocalCa } from '../stand-ins/ca.ts';
import {
  type IdentityStandIn,
  type IdentityStandInOptions,
  startIdentityStandIn,
} from '../stand-ins/identity.ts';
import { trustCertificateAuthority } from '../stand-ins/tls-trust.ts';

export type LocalAzure = { ca: LocalCa; identity: IdentityStandIn; close(): Promise<void> };

/**
 * The identity endpoint and CA every integration test starts from. It points this process's
 * managed-identity credential at the stand-in: @azure/identity fixes its identity source at the
 * first getToken of a process, so call this before anything asks for a token.
 */
export async function startLocalAzure(options: IdentityStandInOptions = {}): Promise<LocalAzure> {
  const ca = createLocalCa();
  trustCertificateAuthority(ca.certPem);
  const identity = await startIdentityStandIn(options);
  process.env.IDENTITY_ENDPOINT = identity.endpoint;
  process.env.IDENTITY_HEADER = identity.header;
  delete process.env.AZURE_FEDERATED_TOKEN_FILE;
  delete process.env.AZURE_TENANT_ID;
  delete process.env.MSI_ENDPOINT;
  return { ca, identity, close: () => identity.close() };
}
