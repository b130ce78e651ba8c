import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
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

/**
 * The CA file a child process gets as `NODE_EXTRA_CA_CERTS`: the stack's CA, plus the CA the user
 * already trusts (their own `NODE_EXTRA_CA_CERTS`, e.g. a corporate proxy's or a SQL Server
 * container's), written together into `dir`. Node reads only one such file, so replacing the user's
 * would silently drop their trust.
 */
export function caBundleFor(options: { stackCaPath: string; userCaPath?: string; dir: string }): string {
  const { stackCaPath, userCaPath, dir } = options;
  if (!userCaPath || resolve(userCaPath) === resolve(stackCaPath)) return stackCaPath;
  let user: string;
  try {
    user = readFileSync(userCaPath, 'utf8');
  } catch (error: unknown) {
    throw new Error(`NODE_EXTRA_CA_CERTS: cannot read ${userCaPath} (${(error as Error).message})`);
  }
  const bundlePath = join(dir, 'ca-bundle.pem');
  mkdirSync(dir, { recursive: true });
  writeFileSync(bundlePath, `${user.trimEnd()}\n${readFileSync(stackCaPath, 'utf8').trimEnd()}\n`);
  return bundlePath;
}
