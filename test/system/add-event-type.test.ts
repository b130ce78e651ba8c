import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../src/cloudevents/cloud-event.ts';
import { toServiceBusMessage } from '../../src/cloudevents/envelope.ts';
import { createHandlerRegistry } from '../../src/handlers/registry.ts';
import { migrate } from '../../src/sql/migrate.ts';
import { handlers } from '../fixtures/invoices/handlers.ts';
import { invoiceIssuedType } from '../fixtures/invoices/issued.ts';
import { runScript } from '../helpers/run-script.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.ts';

// A second event type added as a team adopting the project adds one: a folder of its own
// (test/fixtures/invoices/, src/handlers/invoices/ in a project) and the shipped list plus one entry,
// selected with HANDLERS_MODULE. Nothing of the worker, the scripts or the SQL layer is edited.
const fixture = new URL('../fixtures/invoices/', import.meta.url);
const invoicesModule = new URL('handlers.ts', fixture).pathname;
const invoices = createHandlerRegistry(handlers);

let system: SystemStack;
let worker: WorkerProcess;
let queue: string;

beforeAll(async () => {
  queue = `invoices-${randomUUID().slice(0, 8)}`;
  system = await startSystemStack({ queue, migrate: false });
  // What the migration job runs for this list: the product's, orders' 0100 and the invoices' 0101.
  await migrate(system.sql, { dirs: invoices.migrationDirs });
  worker = await startWorkerProcess({
    ...system.stack.env('worker'),
    HANDLERS_MODULE: invoicesModule,
    SHUTDOWN_GRACE_MS: '5000',
  });
}, 60_000);

afterAll(async () => {
  if (worker && worker.child.exitCode === null) {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
  await system?.close();
});

const invoiceEvent = (data: Record<string, unknown>): CloudEvent => ({
  specversion: '1.0',
  id: randomUUID(),
  source: '/billing/api',
  type: invoiceIssuedType,
  time: new Date().toISOString(),
  data,
});

async function send(...events: CloudEvent[]): Promise<void> {
  const client = system.publisher();
  try {
    await client.createSender(queue).sendMessages(events.map((e) => toServiceBusMessage(e)));
  } finally {
    await client.close();
  }
}

const invoiceRows = async (invoiceId: string) =>
  (
    await system.sql.query(
      'SELECT OrderId, Number, CAST(Amount AS NVARCHAR(40)) AS Amount, IssuedAt FROM dbo.Invoices WHERE InvoiceId = @id',
      { id: { type: 'uniqueidentifier', value: invoiceId } },
    )
  ).rows.map((r) => ({
    orderId: String(r.OrderId).toLowerCase(),
    number: r.Number,
    amount: r.Amount,
    issuedAt: (r.IssuedAt as Date).toISOString(),
  }));

const countInvoices = async () =>
  Number((await system.sql.query('SELECT COUNT(*) AS n FROM dbo.Invoices')).rows[0]?.n);

const scriptEnv = (who: 'operator' | 'publisher') => ({
  ...system.stack.env(who),
  HANDLERS_MODULE: invoicesModule,
});

describe('a second event type added from a folder of its own and one list entry', () => {
  const issued = {
    invoiceId: randomUUID(),
    orderId: randomUUID(),
    number: 'INV-2025-000042',
    amount: '1234.50',
    issuedAt: '2025-03-01T11:15:00.000Z',
  };
  const { invoiceId: _, ...stored } = issued;

  it('applies the event as the worker identity, which holds only db_datareader and db_datawriter', async () => {
    await send(invoiceEvent(issued));
    await expect
      .poll(() => invoiceRows(issued.invoiceId), { timeout: 20_000, interval: 200 })
      .toEqual([stored]);
  });

  it('dead-letters a number too long for NVARCHAR(32) as ValidationFailed naming the bound, storing nothing', async () => {
    const tooLong = { ...issued, invoiceId: randomUUID(), number: `INV-${'9'.repeat(29)}` };
    expect(tooLong.number).toHaveLength(33);
    const event = invoiceEvent(tooLong);
    await send(event);
    await expect
      .poll(() => system.stack.serviceBus.deadLetters(queue).map((d) => d.messageId), { timeout: 20_000 })
      .toEqual([event.id]);
    const [dead] = system.stack.serviceBus.deadLetters(queue);
    expect(dead?.reason).toBe('ValidationFailed');
    expect(dead?.description).toBe('data.number: expected at most 32 UTF-16 code units (NVARCHAR(32))');
    expect(await invoiceRows(tooLong.invoiceId)).toEqual([]);
  });

  it('re-applies the stored event with `npm run reprocess -- inbox --type` after its row was deleted', async () => {
    await system.sql.query('DELETE FROM dbo.Invoices WHERE InvoiceId = @id', {
      id: { type: 'uniqueidentifier', value: issued.invoiceId },
    });
    expect(await invoiceRows(issued.invoiceId)).toEqual([]);

    const run = await runScript(
      ['scripts/reprocess.ts', 'inbox', '--type', invoiceIssuedType, '--json'],
      scriptEnv('operator'),
    );
    expect(run.code, run.out).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ command: 'inbox', counts: { reapplied: 1 } });
    expect(await invoiceRows(issued.invoiceId)).toEqual([stored]);
  }, 30_000);

  it('publishes the type’s example data with `npm run publish -- --type`, and the worker applies it', async () => {
    const before = await countInvoices();
    const run = await runScript(
      ['scripts/publish.ts', '--type', invoiceIssuedType, '--count', '5'],
      scriptEnv('publisher'),
    );
    expect(run.code, run.out).toBe(0);
    expect(run.stdout.trim()).toBe('sent 5 events in 1 batch');
    await expect.poll(countInvoices, { timeout: 20_000, interval: 200 }).toBe(before + 5);
    // Completed after their commit: nothing left but the one dead letter.
    await expect
      .poll(() => system.stack.serviceBus.counts(queue), { timeout: 10_000 })
      .toMatchObject({ active: 0, locked: 0, deferred: 0, deadLettered: 1 });
  }, 30_000);
});

describe('the files it took', () => {
  const files = (dir: URL, prefix = ''): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(new URL(`${e.name}/`, dir), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
    );

  it('are four, the ones the README’s walk-through names', () => {
    const added = files(fixture).sort();
    expect(added).toHaveLength(4);
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = /^## Add your own event type\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1] ?? '';
    // In a project the folder sits beside orders/ and the list is the shipped one, edited.
    const asInProject = added.map((f) =>
      f === 'handlers.ts' ? 'src/handlers/handlers.ts' : `src/handlers/invoices/${f}`,
    );
    const named = [
      ...new Set(section.match(/src\/handlers\/(?:invoices\/[\w/-]+\.(?:ts|sql)|handlers\.ts)/g) ?? []),
    ];
    expect(named.sort()).toEqual(asInProject.sort());
  });
});
