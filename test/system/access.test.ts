import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/sql/migrate.ts';
import { testMigrationDirs } from '../fixtures/migrations.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';
import { runWorkerProcess, spawnWorkerProcess } from '../helpers/worker-process.ts';

// A worker whose identity lacks a right stops at start with what is missing and how to grant it,
// instead of running and failing on every message. A schema the migrations have not created yet is
// waited for instead: the migration job may still be running.
let system: SystemStack;

beforeAll(async () => {
  system = await startSystemStack({ queue: 'orders-access', migrate: false });
}, 60_000);
afterAll(async () => {
  await system?.close();
});

describe('a worker that lacks a right', () => {
  it('stops at start when the database is not migrated and SQL_SCHEMA_WAIT_MS is 0', async () => {
    const { code, output } = await runWorkerProcess({
      ...system.stack.env('worker'),
      SQL_SCHEMA_WAIT_MS: '0',
    });
    expect(code).toBe(1);
    expect(output).toContain("dbo.Inbox does not exist in database 'keyless'");
    expect(output).toContain('run the migrations first (the migration job, or npm run migrate');
  });

  it('waits for the schema alive and not ready, as the first revision does before the migration job ran, and starts once it has', async () => {
    const worker = spawnWorkerProcess(system.stack.env('worker'));
    try {
      await worker.waitFor('database schema not there yet: waiting for the migrations', 20_000);
      const port = worker.httpPort();
      // The platform's probes: liveness passes (no restart), readiness says why it is not ready.
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const notReady = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(notReady.status).toBe(503);
      expect(await notReady.json()).toMatchObject({ checks: { worker: 'starting' } });

      await migrate(system.sql, { dirs: testMigrationDirs });
      await worker.waitFor('"msg":"worker running"', 20_000);
      expect(worker.output()).toContain('database schema found: starting');
      // Ready once every check passes (the receive link opens just after the start line).
      let ready: Response | undefined;
      for (let i = 0; i < 50 && ready?.status !== 200; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 200));
        ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      }
      expect(ready?.status, await ready?.text()).toBe(200);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
  }, 60_000);

  it('stops at start naming the identity and the CREATE USER that lets it in when the database has no user for it', async () => {
    await migrate(system.sql, { dirs: testMigrationDirs });
    const { identity, file } = system.stack;
    const stranger = identity.addIdentity('keyless-stranger');
    // Every role the worker has, so that only the database user is missing.
    identity.assignRole(
      stranger.objectId,
      'Azure Service Bus Data Receiver',
      identity.resourceId('Microsoft.ServiceBus/namespaces', 'keyless-local'),
    );
    identity.assignRole(
      stranger.objectId,
      'Key Vault Secrets User',
      identity.resourceId('Microsoft.KeyVault/vaults', 'keyless-local'),
    );

    const { code, output } = await runWorkerProcess({
      ...system.stack.env('worker'),
      AZURE_CLIENT_ID: stranger.clientId,
    });

    expect(code).toBe(1);
    expect(output).toContain(`client id ${stranger.clientId}`);
    expect(output).toContain(`database '${file.sql.database}'`);
    expect(output).toContain('CREATE USER [keyless-stranger] FROM EXTERNAL PROVIDER;');
    expect(output).toContain('ALTER ROLE db_datawriter ADD MEMBER [keyless-stranger];');
  });

  it('stops at start naming the missing Service Bus role and the command that grants it', async () => {
    const { identity, file } = system.stack;
    const worker = file.identities.worker;
    const namespaceId = identity.resourceId('Microsoft.ServiceBus/namespaces', 'keyless-local');
    identity.removeRole(worker.objectId, 'Azure Service Bus Data Receiver', namespaceId);

    const { code, output } = await runWorkerProcess(system.stack.env('worker'));

    expect(code).toBe(1);
    expect(output).toContain(`object id ${worker.objectId}`);
    expect(output).toContain("lacks the role 'Azure Service Bus Data Receiver'");
    expect(output).toContain(
      `az role assignment create --assignee-object-id ${worker.objectId} --assignee-principal-type ServicePrincipal --role "Azure Service Bus Data Receiver"`,
    );
    identity.assignRole(worker.objectId, 'Azure Service Bus Data Receiver', namespaceId);
  }, 40_000);
});
