import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { createLocalCa } from '../stand-ins/ca.ts';
import { type IdentityStandIn, startIdentityStandIn } from '../stand-ins/identity.ts';
import { trustCertificateAuthority } from '../stand-ins/tls-trust.ts';

export type Ingested = { path: string; authorization: string | undefined; body: string };

export type IngestionEndpoint = {
  /** `IngestionEndpoint=…` for a connection string. */
  readonly url: string;
  /** Every request, in order. */
  readonly received: Ingested[];
  close(): Promise<void>;
};

/**
 * An Application Insights ingestion endpoint on this machine (HTTPS, its CA trusted by this
 * process): it records what the real Azure Monitor exporters send, bearer token included, and
 * accepts every item, so a test sees what Azure would receive rather than a mock's view.
 */
export async function startIngestionEndpoint(): Promise<IngestionEndpoint> {
  // The exporters' own usage statistics would go to Microsoft's endpoints, unreachable here.
  process.env.APPLICATION_INSIGHTS_NO_STATSBEAT = 'true';
  process.env.APPLICATIONINSIGHTS_SDKSTATS_DISABLED = 'true';
  const ca = createLocalCa();
  trustCertificateAuthority(ca.certPem);
  const { certPem, keyPem } = ca.issue(['localhost']);
  const received: Ingested[] = [];
  const server = createServer({ cert: certPem, key: keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString() : raw.toString();
      received.push({ path: req.url ?? '', authorization: req.headers.authorization, body });
      const items = body.trim().startsWith('[') ? (JSON.parse(body) as unknown[]).length : 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ itemsReceived: items, itemsAccepted: items, errors: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://localhost:${port}/`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The items of every /track request: one JSON object per item (the exporter sends a JSON array or NDJSON). */
export function trackedItems(received: readonly Ingested[]): Record<string, unknown>[] {
  return received
    .filter((r) => r.path.includes('/track'))
    .flatMap((r) => {
      const text = r.body.trim();
      return text.startsWith('[')
        ? (JSON.parse(text) as Record<string, unknown>[])
        : text.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    });
}

/**
 * The identity stand-in as this process's managed identity endpoint, and an ingestion endpoint:
 * what the Azure Monitor exporters need to send with a managed identity's token.
 */
export async function startMonitorStandIns(): Promise<{
  identity: IdentityStandIn;
  ingestion: IngestionEndpoint;
  close(): Promise<void>;
}> {
  const identity = await startIdentityStandIn();
  process.env.IDENTITY_ENDPOINT = identity.endpoint;
  process.env.IDENTITY_HEADER = identity.header;
  const ingestion = await startIngestionEndpoint();
  return {
    identity,
    ingestion,
    close: async () => {
      await ingestion.close();
      await identity.close();
    },
  };
}
