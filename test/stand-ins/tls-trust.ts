import { getCACertificates, setDefaultCACertificates } from 'node:tls';

/**
 * Makes this process trust `caPem` for every TLS connection made from now on, as
 * NODE_EXTRA_CA_CERTS does for a process started with it. Test files start their own CA after
 * the process is up, so they cannot use the variable; production code sees the same default trust.
 */
export function trustCa(caPem: string): void {
  const current = getCACertificates('default');
  if (!current.includes(caPem)) setDefaultCACertificates([...current, caPem]);
}
