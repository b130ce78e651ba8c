import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

/** A server certificate and its key, PEM encoded. */
export type ServerCertificate = { certPem: string; keyPem: string };

/**
 * A certificate authority made at start and kept in memory only: no key material is committed.
 * Every stand-in that speaks TLS gets its server certificate from one CA, so a client trusts all
 * of them through one `NODE_EXTRA_CA_CERTS` file or one `ca` option, as it would trust a real chain.
 */
export type LocalCa = {
  certPem: string;
  issue(hostNames: readonly string[]): ServerCertificate;
};

function rsaKeyPair(): forge.pki.rsa.KeyPair {
  // node:crypto generates the key (fast, native); forge only builds and signs the certificates.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const priv = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return { privateKey: priv, publicKey: forge.pki.rsa.setPublicKey(priv.n, priv.e) };
}

function serial(): string {
  // Positive, 16 bytes: a leading 0x01..0x7f byte keeps the DER integer positive.
  return `${(1 + ((randomBytes(1)[0] ?? 0) % 127)).toString(16).padStart(2, '0')}${randomBytes(15).toString('hex')}`;
}

function validity(cert: forge.pki.Certificate, days: number): void {
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60_000);
  cert.validity.notAfter = new Date(now + days * 86_400_000);
}

export function createLocalCa(commonName = 'keyless-worker local CA'): LocalCa {
  const caKeys = rsaKeyPair();
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = caKeys.publicKey;
  caCert.serialNumber = serial();
  validity(caCert, 30);
  const caSubject = [{ name: 'commonName', value: commonName }];
  caCert.setSubject(caSubject);
  caCert.setIssuer(caSubject);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  caCert.sign(caKeys.privateKey, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(caCert);

  return {
    certPem,
    issue(hostNames) {
      const [first] = hostNames;
      if (first === undefined) throw new Error('a server certificate needs at least one host name');
      const keys = rsaKeyPair();
      const cert = forge.pki.createCertificate();
      cert.publicKey = keys.publicKey;
      cert.serialNumber = serial();
      validity(cert, 29);
      cert.setSubject([{ name: 'commonName', value: first }]);
      cert.setIssuer(caCert.subject.attributes);
      cert.setExtensions([
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: hostNames.map((h) => (/^[\d.]+$/.test(h) ? { type: 7, ip: h } : { type: 2, value: h })),
        },
      ]);
      cert.sign(caKeys.privateKey, forge.md.sha256.create());
      return {
        certPem: forge.pki.certificateToPem(cert),
        keyPem: forge.pki.privateKeyToPem(keys.privateKey),
      };
    },
  };
}
