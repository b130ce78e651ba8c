import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderHandlers } from '../../src/handlers/orders/handlers.ts';
import { orderPlacedType, orderStatusChangedType } from '../../src/handlers/orders/schema.ts';
import { exampleOrderPlaced } from '../../src/handlers/orders/schema-examples.ts';
import type { CloudEvent } from '../../src/pipeline/cloud-event.ts';
import { createSqlWriter } from '../../src/pipeline/sql-writer.ts';
import { migrate } from '../../src/sql/migrate.ts';
import { createSqlPool } from '../../src/sql/pool.ts';
import { runScript } from '../helpers/run-script.ts';
import { createLocalCa } from '../stand-ins/ca.ts';
import type { Authority } from '../stand-ins/identity.ts';
import { createPgliteEngine } from '../stand-ins/sql/engine/index.ts';
import type { SqlEngine } from '../stand-ins/sql/engine-api.ts';
import { type SqlStandIn, startSqlStandIn } from '../stand-ins/sql/index.ts';

// `npm run reprocess -- inbox` against a SQL Server as a container runs it locally (SQL
// authentication, its own certificate) on a machine with no managed identity endpoint at all: the
// script touches only the database, so it must ask no identity for anything.
const login = { login: 'sa', password: 'Local-Only-Passw0rd' };
// Nothing here issues tokens; a token login would be refused.
const noTokens: Authority = {
  tenantId: '00000000-0000-0000-0000-000000000000',
  verify: () => ({ ok: false, reason: 'bad-signature', detail: 'no identity here' }),
  hasRole: () => false,
  identityByObjectId: () => undefined,
};
let engine: SqlEngine;
let server: SqlStandIn;

beforeAll(async () => {
  const ca = createLocalCa('SQL Server container self-signed');
  engine = await createPgliteEngine({ database: 'keyless', logins: [{ ...login, roles: ['db_owner'] }] });
  server = await startSqlStandIn({ authority: noTokens, ca, engine });
  const admin = createSqlPool({
    server: server.server,
    port: server.port,
    database: 'keyless',
    authentication: { type: 'default', options: { userName: login.login, password: login.password } },
    ca: ca.certPem,
    max: 1,
  });
  try {
    await migrate(admin);
    const placed = exampleOrderPlaced(1);
    const event = (id: string, type: string, data: unknown): CloudEvent => ({
      specversion: '1.0',
      id,
      source: '/test',
      type,
      data,
    });
    const outcomes = await createSqlWriter({ db: admin, handlers: orderHandlers }).writeBatch([
      event('placed-1', orderPlacedType, placed),
      event('placed-2', orderPlacedType, exampleOrderPlaced(2)),
      event('paid-1', orderStatusChangedType, { orderId: placed.orderId, status: 'paid', version: 1 }),
    ]);
    expect([...outcomes.values()].every((o) => o.kind === 'complete')).toBe(true);
  } finally {
    await admin.close();
  }
}, 60_000);
afterAll(async () => {
  await server?.close();
  await engine?.close();
});

describe('npm run reprocess -- inbox with SQL_AUTH=password', () => {
  it('counts the stored events with --dry-run, with no identity endpoint anywhere', async () => {
    const { code, stdout, stderr } = await runScript(
      ['scripts/reprocess.ts', 'inbox', '--dry-run', '--json'],
      {
        SQL_SERVER: server.server,
        SQL_PORT: String(server.port),
        SQL_DATABASE: 'keyless',
        SQL_AUTH: 'password',
        SQL_USER: login.login,
        SQL_PASSWORD: login.password,
        SQL_TRUST_SERVER_CERTIFICATE: 'true',
      },
    );
    expect(stderr).not.toMatch(/ManagedIdentityCredential|IDENTITY_ENDPOINT/);
    expect(code, stderr).toBe(0);
    expect(stderr).toContain(`${server.server}:${server.port}/keyless as SQL login sa`);
    const summary = JSON.parse(stdout) as {
      command: string;
      dryRun: boolean;
      counts: object;
      plan: string[];
    };
    expect(summary).toMatchObject({ command: 'inbox', dryRun: true, counts: { 'would-reapply': 3 } });
    expect(summary.plan.sort()).toEqual([
      `would re-apply 1 ${orderStatusChangedType}`,
      `would re-apply 2 ${orderPlacedType}`,
    ]);
  });
});
