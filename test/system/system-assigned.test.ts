import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePublishItems } from '../../src/cloudevents/sample-events.ts';
import { grantsOf } from '../../src/identity/roles.ts';
import { publishEvents } from '../../src/servicebus/publisher.ts';
import { parcelRegisteredType, parcels } from '../fixtures/parcels/events.ts';
import { fixtureHandlersEnv } from '../helpers/retry-fixture.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.ts';

// The worker with the app's system-assigned identity (`deploy.sh --identity system`): no
// AZURE_CLIENT_ID, so every token request names no client id and the endpoint answers for the app.
let system: SystemStack;
let worker: WorkerProcess | undefined;
const app = 'keyless-worker-app';

beforeAll(async () => {
  system = await startSystemStack({ queue: 'orders-system-assigned' });
  const { identity, sqlEngine, file } = system.stack;
  const principal = identity.enableSystemAssigned(app);
  // The worker's rows of the roles table, granted to the app's own principal as provisioning does.
  const scopeOf = {
    queue: `${identity.resourceId('Microsoft.ServiceBus/namespaces', 'keyless-local')}/queues/${file.serviceBus.queue}`,
    vault: identity.resourceId('Microsoft.KeyVault/vaults', 'keyless-local'),
  };
  const admin = await sqlEngine.openSession(file.sql.database, 'dbo');
  await admin.execute(`CREATE USER [${app}] FROM EXTERNAL PROVIDER`);
  for (const g of grantsOf('worker')) {
    if (g.kind === 'rbac' && (g.scope === 'queue' || g.scope === 'vault'))
      identity.assignRole(principal.objectId, g.role, scopeOf[g.scope]);
    if (g.kind === 'sql') await admin.execute(`ALTER ROLE ${g.role} ADD MEMBER [${app}]`);
  }
  await admin.close();
}, 60_000);

afterAll(async () => {
  if (worker && worker.child.exitCode === null) worker.child.kill('SIGKILL');
  await system?.close();
});

describe('a worker on a system-assigned identity', () => {
  it('runs the pipeline as the app itself: tokens asked with no client id, events written', async () => {
    const { AZURE_CLIENT_ID: _userAssigned, ...env } = system.stack.env('worker');
    const before = system.stack.identity.requests.length;
    worker = await startWorkerProcess({ ...env, ...fixtureHandlersEnv, SHUTDOWN_GRACE_MS: '5000' });

    const client = system.publisher();
    const sender = client.createSender(system.stack.file.serviceBus.queue);
    const summary = await publishEvents(
      sender,
      generatePublishItems({
        count: 40,
        types: [parcelRegisteredType],
        dataFor: (t, n) => parcels.example(t, n),
      }),
    );
    await client.close();
    expect(summary).toMatchObject({ sent: 40, failed: 0 });
    await expect
      .poll(
        async () =>
          Number((await system.sql.query('SELECT COUNT(*) AS n FROM dbo.FixtureParcels')).rows[0]?.n),
        {
          timeout: 30_000,
          interval: 250,
        },
      )
      .toBe(40);

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.output()).toContain('system-assigned');
    const workerRequests = system.stack.identity.requests
      .slice(before)
      .filter((r) => r.clientId === undefined);
    expect(workerRequests.length).toBeGreaterThan(0);
    expect(workerRequests.every((r) => r.status === 200)).toBe(true);
    expect(new Set(workerRequests.map((r) => r.resource.replace(/\/$/, '')))).toEqual(
      new Set(['https://servicebus.azure.net', 'https://vault.azure.net', 'https://database.windows.net']),
    );
  }, 60_000);
});
