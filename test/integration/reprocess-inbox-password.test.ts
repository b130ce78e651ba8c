import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../src/cloudevents/cloud-event.ts';
import { createSqlWriter } from '../../src/pipeline/sql-writer.ts';
import {
  exampleRegistered,
  parcelRegisteredType,
  parcelStatusChangedType,
  parcels,
  parcelsModule,
} from '../fixtures/parcels/events.ts';
import { runScript } from '../helpers/run-script.ts';
import { type SqlContainer, startSqlContainer } from '../helpers/sql-container.ts';
import type { Authority } from '../stand-ins/identity.ts';

// `npm run reprocess -- inbox` against a SQL Server as a container runs it locally (SQL
// authentication, its own certificate) on a machine with no managed identity endpoint at all: the
// script touches only the database, so it must ask no identity for anything.
// Nothing here issues tokens; a token login would be refused.
const noTokens: Authority = {
  tenantId: '00000000-0000-0000-0000-000000000000',
  verify: () => ({ ok: false, reason: 'bad-signature', detail: 'no identity here' }),
  hasRole: () => false,
  identityByObjectId: () => undefined,
};
let container: SqlContainer;

const event = (id: string, type: string, data: unknown): CloudEvent => ({
  specversion: '1.0',
  id,
  source: '/test/reprocess-inbox-password',
  type,
  data,
});

beforeAll(async () => {
  container = await startSqlContainer(noTokens);
  const admin = container.connect();
  try {
    const registered = (n: number) =>
      parcels.schemas.get(parcelRegisteredType)?.parse(exampleRegistered(n)) as { parcelId: string };
    const first = registered(1);
    const outcomes = await createSqlWriter({ db: admin, handlers: parcels }).writeBatch([
      event('registered-1', parcelRegisteredType, first),
      event('registered-2', parcelRegisteredType, registered(2)),
      event('delivered-1', parcelStatusChangedType, {
        parcelId: first.parcelId,
        status: 'delivered',
        version: 1,
      }),
    ]);
    expect([...outcomes.values()].every((o) => o.kind === 'complete')).toBe(true);
  } finally {
    await admin.close();
  }
}, 60_000);
afterAll(async () => {
  await container?.close();
});

describe('npm run reprocess -- inbox with SQL_AUTH=password', () => {
  it('counts the stored events with --dry-run, with no identity endpoint anywhere', async () => {
    const { code, stdout, stderr } = await runScript(
      ['scripts/reprocess.ts', 'inbox', '--dry-run', '--json'],
      { ...container.settings, SQL_TRUST_SERVER_CERTIFICATE: 'true', HANDLERS_MODULE: parcelsModule },
    );
    expect(stderr).not.toMatch(/ManagedIdentityCredential|IDENTITY_ENDPOINT/);
    expect(code, stderr).toBe(0);
    expect(stderr).toContain(
      `${container.settings.SQL_SERVER}:${container.settings.SQL_PORT}/keyless as SQL login sa`,
    );
    const summary = JSON.parse(stdout) as {
      command: string;
      dryRun: boolean;
      counts: object;
      plan: string[];
    };
    expect(summary).toMatchObject({ command: 'inbox', dryRun: true, counts: { 'would-reapply': 3 } });
    expect(summary.plan.sort()).toEqual([
      `would re-apply 1 ${parcelStatusChangedType}`,
      `would re-apply 2 ${parcelRegisteredType}`,
    ]);
  });
});
