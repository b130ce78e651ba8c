// npm run bench: rows/s of the batched write path (one transaction per batch, set-based) against
// one transaction per message, side by side in one run, through tedious and the TDS stand-in
// started in this process. Prints figures; asserts nothing.
import { randomUUID } from 'node:crypto';
import { ManagedIdentityCredential } from '@azure/identity';
import { orderHandlers } from '../src/handlers/orders/handlers.ts';
import { orderPlacedType } from '../src/handlers/orders/schema.ts';
import type { CloudEvent } from '../src/pipeline/cloud-event.ts';
import { createSqlWriter } from '../src/pipeline/sql-writer.ts';
import { migrate } from '../src/sql/migrate.ts';
import { createSqlPool } from '../src/sql/pool.ts';
import { createLocalCa } from '../test/stand-ins/ca.ts';
import { startIdentityStandIn } from '../test/stand-ins/identity.ts';
import { createPgliteEngine } from '../test/stand-ins/sql/engine/index.ts';
import { startSqlStandIn } from '../test/stand-ins/sql/index.ts';
import { trustCertificateAuthority } from '../test/stand-ins/tls-trust.ts';

const total = Number(process.argv[2] ?? 2000);
const batchSize = Number(process.argv[3] ?? 100);

const identity = await startIdentityStandIn();
process.env.IDENTITY_ENDPOINT = identity.endpoint;
process.env.IDENTITY_HEADER = identity.header;
const worker = identity.addIdentity('bench-worker');
const ca = createLocalCa();
trustCertificateAuthority(ca.certPem);
const engine = await createPgliteEngine();
const admin = await engine.openSession('keyless', 'dbo');
await admin.execute(
  `CREATE USER [${worker.name}] FROM EXTERNAL PROVIDER; ALTER ROLE db_owner ADD MEMBER [${worker.name}]`,
);
await admin.close();
const sql = await startSqlStandIn({ authority: identity, ca, engine });
const pool = createSqlPool({
  server: sql.server,
  port: sql.port,
  database: 'keyless',
  authentication: {
    type: 'token-credential',
    options: { credential: new ManagedIdentityCredential({ clientId: worker.clientId }) },
  },
  max: 4,
});

const events = (n: number): CloudEvent[] =>
  Array.from({ length: n }, (_, i) => ({
    specversion: '1.0',
    id: randomUUID(),
    source: '/bench',
    type: orderPlacedType,
    time: new Date().toISOString(),
    data: {
      orderId: randomUUID(),
      customerId: `customer-${i % 97}`,
      currency: 'EUR',
      placedAt: new Date().toISOString(),
      lines: [{ sku: `SKU-${i % 50}`, quantity: 1 + (i % 5), unitPrice: '12.50' }],
    },
  }));

const run = async (size: number): Promise<number> => {
  const writer = createSqlWriter({ db: pool, handlers: orderHandlers });
  const all = events(total);
  const started = performance.now();
  for (let i = 0; i < all.length; i += size) {
    const outcomes = await writer.writeBatch(all.slice(i, i + size));
    for (const o of outcomes.values())
      if (o.kind !== 'complete') throw new Error(`bench write failed: ${JSON.stringify(o)}`);
  }
  return (total / (performance.now() - started)) * 1000;
};

try {
  await migrate(pool);
  await run(batchSize); // warm-up: connections, plans, JIT
  const batched = await run(batchSize);
  const single = await run(1);
  const pad = (s: string) => s.padEnd(34);
  console.log(`${total} order.placed events (1 line each), tedious → TDS stand-in → PGlite`);
  console.log(`${pad(`batched (${batchSize} per transaction)`)} ${batched.toFixed(0).padStart(8)} rows/s`);
  console.log(`${pad('one transaction per message')} ${single.toFixed(0).padStart(8)} rows/s`);
  console.log(`${pad('ratio')} ${(batched / single).toFixed(1).padStart(8)} ×`);
} finally {
  await pool.close();
  await sql.close();
  await engine.close();
  await identity.close();
}
