import { ManagedIdentityCredential } from '@azure/identity';
import { Connection, type ConnectionConfiguration, Request, RequestError, TYPES } from 'tedious';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAzure } from '../../helpers/azure-stand-ins.ts';
import type { LocalCa } from '../ca.ts';
import type { IdentityStandIn, UserAssignedIdentity } from '../identity.ts';
import { createPgliteEngine } from './engine/index.ts';
import type { SqlEngine } from './engine-api.ts';
import { type SqlStandIn, startSqlStandIn } from './index.ts';

let identity: IdentityStandIn;
let ca: LocalCa;
let engine: SqlEngine;
let sql: SqlStandIn;
let writer: UserAssignedIdentity;
let reader: UserAssignedIdentity;
const open: Connection[] = [];

beforeAll(async () => {
  // Before any getToken: the process's identity source is fixed at the first one.
  ({ identity, ca } = await startLocalAzure());
  writer = identity.addIdentity('worker');
  reader = identity.addIdentity('reporting');
  engine = await createPgliteEngine({
    database: 'appdb',
    users: [
      { name: 'worker', roles: ['db_datareader', 'db_datawriter'] },
      { name: 'reporting', roles: ['db_datareader'] },
    ],
  });
  const dbo = await engine.openSession('appdb', 'dbo');
  await dbo.execute(
    'CREATE TABLE dbo.orders (id int NOT NULL PRIMARY KEY, customer nvarchar(100) NOT NULL, amount decimal(18, 2) NOT NULL, placed_at datetime2(3) NOT NULL)',
  );
  await dbo.close();
  sql = await startSqlStandIn({ authority: identity, ca, engine });
});

afterEach(async () => {
  await Promise.all(open.splice(0).map(closeConnection));
  await expect.poll(() => sql.connections()).toBe(0);
});

afterAll(async () => {
  await sql.close();
  await engine.close();
  await identity.close();
});

function connect(who: UserAssignedIdentity): Promise<Connection> {
  const config: ConnectionConfiguration = {
    server: sql.server,
    authentication: {
      type: 'token-credential',
      options: { credential: new ManagedIdentityCredential({ clientId: who.clientId }) },
    },
    options: { port: sql.port, database: 'appdb', encrypt: true, trustServerCertificate: false },
  };
  const connection = new Connection(config);
  open.push(connection);
  connection.on('error', () => {});
  return new Promise((resolve, reject) =>
    connection.connect((err) => (err ? reject(err) : resolve(connection))),
  );
}

function closeConnection(connection: Connection): Promise<void> {
  return new Promise((resolve) => {
    if ((connection as unknown as { closed: boolean }).closed) return resolve();
    connection.once('end', () => resolve());
    connection.close();
  });
}

type Param = [
  name: string,
  type: (typeof TYPES)[keyof typeof TYPES],
  value: unknown,
  options?: Record<string, unknown>,
];

function run(connection: Connection, text: string, params: Param[] = []): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const rows: Record<string, unknown>[] = [];
    const request = new Request(text, (err) => (err ? reject(err) : resolve(rows)));
    request.on('row', (columns: Array<{ metadata: { colName: string }; value: unknown }>) => {
      rows.push(Object.fromEntries(columns.map((c) => [c.metadata.colName, c.value])));
    });
    for (const [name, type, value, options] of params) request.addParameter(name, type, value, options);
    connection.execSql(request);
  });
}

const order = (id: number, customer = 'contoso'): Param[] => [
  ['id', TYPES.Int, id],
  ['customer', TYPES.NVarChar, customer],
  ['amount', TYPES.Decimal, 12.5, { precision: 18, scale: 2 }],
  ['placed', TYPES.DateTime2, new Date('2024-01-02T03:04:05.678Z'), { scale: 3 }],
];
const INSERT =
  'INSERT INTO dbo.orders (id, customer, amount, placed_at) VALUES (@id, @customer, @amount, @placed)';

describe('the TDS stand-in on the PGlite engine', () => {
  it('writes and reads back a row with parameters as the managed identity', async () => {
    const connection = await connect(writer);
    await run(connection, INSERT, order(1));
    const rows = await run(
      connection,
      'SELECT id, customer, amount, placed_at FROM dbo.orders WHERE id = @id',
      [['id', TYPES.Int, 1]],
    );
    expect(rows).toEqual([
      { id: 1, customer: 'contoso', amount: 12.5, placed_at: new Date('2024-01-02T03:04:05.678Z') },
    ]);
  });

  it('answers a duplicate key with 2627', async () => {
    const connection = await connect(writer);
    await run(connection, INSERT, order(2));
    const err = await run(connection, INSERT, order(2)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestError);
    expect(err).toMatchObject({ number: 2627 });
  });

  it('answers a write without db_datawriter with 229', async () => {
    const connection = await connect(reader);
    const err = await run(connection, INSERT, order(3)).catch((e: unknown) => e);
    expect(err).toMatchObject({ number: 229 });
  });

  it('rolls a transaction back through the transaction manager', async () => {
    const connection = await connect(writer);
    await new Promise<void>((resolve, reject) =>
      connection.beginTransaction((err) => (err ? reject(err) : resolve())),
    );
    await run(connection, INSERT, order(4));
    await new Promise<void>((resolve, reject) =>
      connection.rollbackTransaction((err) => (err ? reject(err) : resolve())),
    );
    expect(await run(connection, 'SELECT id FROM dbo.orders WHERE id = @id', [['id', TYPES.Int, 4]])).toEqual(
      [],
    );
  });

  it('bulk loads rows', async () => {
    const connection = await connect(writer);
    const loaded = await new Promise<number | undefined>((resolve, reject) => {
      const bulk = connection.newBulkLoad('dbo.orders', (err, rowCount) =>
        err ? reject(err) : resolve(rowCount),
      );
      bulk.addColumn('id', TYPES.Int, { nullable: false });
      bulk.addColumn('customer', TYPES.NVarChar, { length: 100, nullable: false });
      bulk.addColumn('amount', TYPES.Decimal, { precision: 18, scale: 2, nullable: false });
      bulk.addColumn('placed_at', TYPES.DateTime2, { scale: 3, nullable: false });
      const at = new Date('2024-02-03T00:00:00Z');
      connection.execBulkLoad(bulk, [
        [10, 'a', 1, at],
        [11, 'b', 2.25, at],
      ]);
    });
    expect(loaded).toBe(2);
    const rows = await run(connection, 'SELECT id, amount FROM dbo.orders WHERE id >= @min ORDER BY id', [
      ['min', TYPES.Int, 10],
    ]);
    expect(rows).toEqual([
      { id: 10, amount: 1 },
      { id: 11, amount: 2.25 },
    ]);
  });
});
