import { getCACertificates, setDefaultCACertificates } from 'node:tls';

/**
 * Adds a CA to this process's default trust, so TLS clients that take no CA option (the Service Bus
 * SDK has none) trust the stand-ins. `NODE_EXTRA_CA_CERTS` would do the same but is read only at
 * process start, which a vitest fork has already passed. Affects connections made after the call.
 */
export function trustCertificateAuthority(certPem: string): void {
  const current = getCACertificates('default');
  if (current.includes(certPem)) return;
  setDefaultCACertificates([...current, certPem]);
}
