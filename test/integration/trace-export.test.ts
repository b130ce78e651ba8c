import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCredential } from '../../src/identity/credential.ts';
import { startTracing } from '../../src/telemetry/tracing.ts';
import { createLocalCa } from '../stand-ins/ca.ts';
import { type IdentityStandIn, startIdentityStandIn } from '../stand-ins/identity.ts';
import { trustCertificateAuthority } from '../stand-ins/tls-trust.ts';

// An Application Insights ingestion endpoint on this machine: it records what the real Azure
// Monitor exporter sends, so the test sees the bearer token and the spans, not a mock's view.
type Received = { path: string; authorization: string | undefined; body: string };
let identity: IdentityStandIn;
let ingestion: Server;
const received: Received[] = [];

beforeAll(async () => {
  // The exporter's own usage statistics would go to Microsoft's endpoints, unreachable here.
  process.env.APPLICATION_INSIGHTS_NO_STATSBEAT = 'true';
  process.env.APPLICATIONINSIGHTS_SDKSTATS_DISABLED = 'true';
  identity = await startIdentityStandIn();
  process.env.IDENTITY_ENDPOINT = identity.endpoint;
  process.env.IDENTITY_HEADER = identity.header;
  const ca = createLocalCa();
  trustCertificateAuthority(ca.certPem);
  const { certPem, keyPem } = ca.issue(['localhost']);
  ingestion = createServer({ cert: certPem, key: keyPem }, (req, res) => {
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
  await new Promise<void>((resolve) => ingestion.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  await new Promise((resolve) => ingestion?.close(resolve));
  await identity?.close();
});

describe('trace export', () => {
  it('sends spans to Azure Monitor with a bearer token of the managed identity for https://monitor.azure.com, no key', async () => {
    const worker = identity.addIdentity('keyless-worker');
    const { port } = ingestion.address() as AddressInfo;
    const tracing = startTracing({
      applicationInsightsConnectionString: `InstrumentationKey=${randomUUID()};IngestionEndpoint=https://localhost:${port}/`,
      credential: createCredential({ clientId: worker.clientId }),
    });
    expect(tracing.enabled).toBe(true);
    tracing.tracer.startSpan('process orders-monitor').end();
    await tracing.close();

    const track = received.filter((r) => r.path.includes('/track'));
    expect(track.length).toBeGreaterThan(0);
    expect(track.some((r) => r.body.includes('process orders-monitor'))).toBe(true);
    for (const r of track) {
      expect(r.authorization).toMatch(/^Bearer /);
      const check = identity.verify(
        String(r.authorization).slice('Bearer '.length),
        'https://monitor.azure.com',
      );
      expect(check.ok).toBe(true);
      if (check.ok) expect(check.claims.oid).toBe(worker.objectId);
    }
  });

  it('sends spans over OTLP/HTTP to the collector at OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    const bodies: { path: string; body: string }[] = [];
    const collector = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString('latin1') });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = collector.address() as AddressInfo;
      const tracing = startTracing({ otlpEndpoint: `http://127.0.0.1:${port}/` });
      tracing.tracer.startSpan('process orders-otlp').end();
      await tracing.close();
      expect(bodies.map((b) => b.path)).toContain('/v1/traces');
      expect(bodies.some((b) => b.body.includes('process orders-otlp'))).toBe(true);
    } finally {
      await new Promise((resolve) => collector.close(resolve));
    }
  });

  it('is off, with no exporter, when neither endpoint is configured', async () => {
    const tracing = startTracing({});
    expect(tracing.enabled).toBe(false);
    const span = tracing.tracer.startSpan('nothing');
    expect(span.isRecording()).toBe(false);
    span.end();
    await tracing.close();
  });
});
