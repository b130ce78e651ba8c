import { once } from 'node:events';
import { connect as connectTcp } from 'node:net';
import { ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import {
  Connection,
  type ConnectionConfiguration,
  ConnectionError,
  ISOLATION_LEVEL,
  Request,
  RequestError,
  TYPES,
} from 'tedious';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startLocalAzure } from '../../helpers/azure-stand-ins.ts';
import { createLocalCa, type LocalCa } from '../ca.ts';
import type { IdentityStandIn, UserAssignedIdentity } from '../identity.ts';
import { type SqlStandIn, startSqlStandIn } from './index.ts';
import { type CannedEngine, createCannedEngine } from './tds/canned-engine.ts';

let identity: IdentityStandIn;
let ca: LocalCa;
let engine: CannedEngine;
let sql: SqlStandIn;
let worker: UserAssignedIdentity;
let stranger: UserAssignedIdentity;
let credential: ManagedIdentityCredential;
const open: Connection[] = [];

beforeAll(async () => {
  // Before any getToken: the process's identity source is fixed at the first one.
  ({ identity, ca } = await startLocalAzure());
  worker = identity.addIdentity('worker');
  stranger = identity.addIdentity('stranger');
  engine = createCannedEngine({
    databases: { appdb: ['worker', 'local_admin'], master: [] },
    logins: { local_admin: 'Local-only-1' },
  });
  sql = await startSqlStandIn({ authority: identity, ca, engine });
  credential = new ManagedIdentityCredential({ clientId: worker.clientId });
});

afterEach(async () => {
  await Promise.all(open.splice(0).map(closeConnection));
  await expect.poll(() => sql.connections()).toBe(0);
  sql.faults.clear();
});

afterAll(async () => {
  await sql.close();
  await identity.close();
});

function config(
  overrides: { credential?: TokenCredential; database?: string; encrypt?: boolean; password?: boolean } = {},
): ConnectionConfiguration {
  return {
    server: sql.server,
    authentication: overrides.password
      ? { type: 'default', options: { userName: 'local_admin', password: 'Local-only-1' } }
      : { type: 'token-credential', options: { credential: overrides.credential ?? credential } },
    options: {
      port: sql.port,
      database: overrides.database ?? 'appdb',
      encrypt: overrides.encrypt ?? true,
      trustServerCertificate: false,
      connectTimeout: 10_000,
      maxRetriesOnTransientErrors: 0,
    },
  };
}

/** Connection-level errors (socket closed by the server) arrive as 'error' events; kept per connection. */
const connectionErrors = new WeakMap<Connection, Error[]>();

function connect(c: ConnectionConfiguration): Promise<Connection> {
  const connection = new Connection(c);
  open.push(connection);
  const errors: Error[] = [];
  connectionErrors.set(connection, errors);
  connection.on('error', (err) => errors.push(err));
  return new Promise((resolve, reject) => {
    connection.connect((err) => (err ? reject(err) : resolve(connection)));
  });
}

function closeConnection(connection: Connection): Promise<void> {
  return new Promise((resolve) => {
    if ((connection as unknown as { closed: boolean }).closed) return resolve();
    connection.once('end', () => resolve());
    connection.close();
  });
}

type Param = {
  name: string;
  type: (typeof TYPES)[keyof typeof TYPES];
  value: unknown;
  options?: Record<string, unknown>;
};
type Outcome = { rows: Record<string, unknown>[]; rowCount: number | undefined };

function run(connection: Connection, text: string, params?: Param[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const rows: Record<string, unknown>[] = [];
    const request = new Request(text, (err, rowCount) => (err ? reject(err) : resolve({ rows, rowCount })));
    request.on('row', (columns: Array<{ metadata: { colName: string }; value: unknown }>) => {
      rows.push(Object.fromEntries(columns.map((c) => [c.metadata.colName, c.value])));
    });
    if (params) {
      for (const p of params) request.addParameter(p.name, p.type, p.value, p.options);
      connection.execSql(request);
    } else connection.execSqlBatch(request);
  });
}

const loginError = (c: ConnectionConfiguration): Promise<unknown> =>
  connect(c).then(
    () => undefined,
    (err: unknown) => err,
  );

describe('login', () => {
  it('logs a managed identity in with its token over TLS that checks the certificate', async () => {
    const connection = await connect(config());
    const { rows } = await run(connection, 'rows 2');
    expect(rows).toEqual([
      { n: 1, label: 'row 1' },
      { n: 2, label: null },
    ]);
    const executed = engine.calls.filter((c) => c.kind === 'execute').at(-1);
    expect(executed).toMatchObject({ user: 'worker', database: 'appdb', sql: 'rows 2' });
  });

  it("speaks TDS 8.0 strict encryption (TLS before PRELOGIN) when the client asks with encrypt: 'strict'", async () => {
    const c = config();
    c.options = { ...c.options, encrypt: 'strict' };
    const connection = await connect(c);
    expect((await run(connection, 'count 2')).rowCount).toBe(2);
  });

  it('logs in over plaintext when the client does not encrypt', async () => {
    const connection = await connect(config({ encrypt: false }));
    expect((await run(connection, 'count 3')).rowCount).toBe(3);
  });

  it('logs a SQL login in by password for local runs', async () => {
    const connection = await connect(config({ password: true, encrypt: false }));
    await run(connection, 'count 1');
    expect(engine.calls.filter((c) => c.kind === 'execute').at(-1)).toMatchObject({ user: 'local_admin' });
  });
});

describe('login is refused', () => {
  it('when the identity has no user in the database', async () => {
    const other = new ManagedIdentityCredential({ clientId: stranger.clientId });
    const err = await loginError(config({ credential: other }));
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err).toMatchObject({ code: 'ELOGIN' });
    expect((err as Error).message).toBe("Login failed for user '<token-identified principal>'.");
  });

  it('when the token is for another audience', async () => {
    const vaultToken: TokenCredential = {
      getToken: async () => ({
        token: identity.issueToken(worker, 'https://vault.azure.net'),
        expiresOnTimestamp: Date.now() + 3_600_000,
      }),
    };
    const err = await loginError(config({ credential: vaultToken }));
    expect(err).toMatchObject({
      code: 'ELOGIN',
      message: "Login failed for user '<token-identified principal>'.",
    });
  });

  it('when the token has expired, so that the app can retry with a fresh one', async () => {
    const stale: TokenCredential = {
      getToken: async () => ({
        token: identity.issueToken(worker, 'https://database.windows.net/', -60),
        expiresOnTimestamp: Date.now() + 60_000,
      }),
    };
    const err = await loginError(config({ credential: stale }));
    expect(err).toMatchObject({
      code: 'ELOGIN',
      message: "Login failed for user '<token-identified principal>'. Token is expired.",
    });
  });

  it('when no database is named: the contained user does not exist in master', async () => {
    const c = config();
    delete c.options?.database;
    expect(await loginError(c)).toMatchObject({
      code: 'ELOGIN',
      message: "Login failed for user '<token-identified principal>'.",
    });
  });

  it('when the database does not exist (4060, then 18456)', async () => {
    const messages: string[] = [];
    const connection = new Connection(config({ database: 'nodb' }));
    connection.on('errorMessage', (m: { message: string }) => messages.push(m.message));
    const err = await new Promise((resolve) => connection.connect(resolve));
    expect(err).toMatchObject({ code: 'ELOGIN' });
    expect(messages).toEqual([
      'Cannot open database "nodb" requested by the login. The login failed.',
      "Login failed for user '<token-identified principal>'.",
    ]);
  });

  it('when the client does not trust the certificate', async () => {
    const otherCa = createLocalCa('someone else');
    const c = config();
    c.options = { ...c.options, cryptoCredentialsDetails: { ca: otherCa.certPem } };
    const err = await loginError(c);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err).toMatchObject({ code: 'ESOCKET', message: expect.stringMatching(/certificate/) });
  });

  it('with a transient error tedious retries by itself (40613)', async () => {
    sql.faults.failLogins(40613);
    const c = config();
    c.options = { ...c.options, maxRetriesOnTransientErrors: 1, connectionRetryInterval: 50 };
    const connection = await connect(c);
    expect((await run(connection, 'count 1')).rowCount).toBe(1);
  });
});

describe('requests', () => {
  it('runs TLS for the whole connection', async () => {
    const connection = new Connection(config());
    open.push(connection);
    const secured = new Promise<string | null>((resolve) =>
      connection.once('secure', (tls) => resolve(tls.getProtocol())),
    );
    await new Promise<void>((resolve, reject) =>
      connection.connect((err) => (err ? reject(err) : resolve())),
    );
    expect(await secured).toBe('TLSv1.2');
    expect((await run(connection, 'rows 1')).rows).toHaveLength(1);
  });

  it('round-trips every parameter type through sp_executesql', async () => {
    const connection = await connect(config());
    const when = new Date('2024-05-06T07:08:09.123Z');
    const params: Param[] = [
      { name: 'nv', type: TYPES.NVarChar, value: 'héllo ✓' },
      { name: 'nvmax', type: TYPES.NVarChar, value: 'x'.repeat(5000) },
      { name: 'nvnull', type: TYPES.NVarChar, value: null },
      { name: 'v', type: TYPES.VarChar, value: 'plain' },
      {
        name: 'vmax',
        type: TYPES.VarChar,
        value: 'y'.repeat(9000),
        options: { length: Number.POSITIVE_INFINITY },
      },
      { name: 'i', type: TYPES.Int, value: -42 },
      { name: 'inull', type: TYPES.Int, value: null },
      { name: 'bi', type: TYPES.BigInt, value: '9007199254740993' },
      { name: 'si', type: TYPES.SmallInt, value: -300 },
      { name: 'ti', type: TYPES.TinyInt, value: 200 },
      { name: 'b', type: TYPES.Bit, value: true },
      { name: 'd', type: TYPES.Decimal, value: 12345.67, options: { precision: 18, scale: 2 } },
      { name: 'n', type: TYPES.Numeric, value: -0.5, options: { precision: 5, scale: 3 } },
      { name: 'f', type: TYPES.Float, value: Math.PI },
      { name: 'g', type: TYPES.UniqueIdentifier, value: '6F9619FF-8B86-D011-B42D-00C04FC964FF' },
      { name: 'dt2', type: TYPES.DateTime2, value: when, options: { scale: 3 } },
      { name: 'dto', type: TYPES.DateTimeOffset, value: when, options: { scale: 7 } },
      { name: 'day', type: TYPES.Date, value: new Date('2024-05-06T00:00:00Z') },
      { name: 'vb', type: TYPES.VarBinary, value: Buffer.from([0, 1, 2, 255]) },
      {
        name: 'vbmax',
        type: TYPES.VarBinary,
        value: Buffer.alloc(10_000, 7),
        options: { length: Number.POSITIVE_INFINITY },
      },
    ];
    const { rows } = await run(connection, `select ${params.map((p) => `@${p.name}`).join(', ')}`, params);
    expect(rows).toHaveLength(1);
    const row = rows[0] ?? {};
    expect(row).toMatchObject({
      nv: 'héllo ✓',
      nvmax: 'x'.repeat(5000),
      nvnull: null,
      v: 'plain',
      vmax: 'y'.repeat(9000),
      i: -42,
      inull: null,
      bi: '9007199254740993',
      si: -300,
      ti: 200,
      b: true,
      d: 12345.67,
      n: -0.5,
      f: Math.PI,
      g: '6F9619FF-8B86-D011-B42D-00C04FC964FF',
      dt2: when,
      dto: when,
      day: new Date('2024-05-06T00:00:00Z'),
      vb: Buffer.from([0, 1, 2, 255]),
      vbmax: Buffer.alloc(10_000, 7),
    });
    const call = engine.calls.filter((c) => c.kind === 'execute').at(-1);
    expect(call?.kind === 'execute' && call.params?.map((p) => [p.name, p.declaredType])).toEqual(
      params.map((p) => [`@${p.name}`, expect.any(String)]),
    );
    expect(call?.kind === 'execute' && call.params?.find((p) => p.name === '@d')).toMatchObject({
      declaredType: 'decimal(18, 2)',
      value: '12345.67',
    });
    expect(call?.kind === 'execute' && call.params?.find((p) => p.name === '@bi')?.value).toBe(
      9007199254740993n,
    );
  });

  it('surfaces the SQL Server error number on RequestError and keeps the connection', async () => {
    const connection = await connect(config());
    const err = (await run(connection, 'fail 2627').catch((e: unknown) => e)) as RequestError;
    expect(err).toBeInstanceOf(RequestError);
    expect(err).toMatchObject({ code: 'EREQUEST', number: 2627, class: 16 });
    expect((await run(connection, 'count 2')).rowCount).toBe(2);
  });

  it('fails the statements a fault names, with SQL Server wording', async () => {
    const connection = await connect(config());
    sql.faults.failStatements(/insert into orders/i, 2627);
    const err = (await run(connection, 'insert into orders values (@id)', [
      { name: 'id', type: TYPES.Int, value: 1 },
    ]).catch((e: unknown) => e)) as RequestError;
    expect(err).toMatchObject({ number: 2627, class: 14, state: 1, serverName: 'localhost' });
    expect(err.message).toMatch(/^Violation of PRIMARY KEY constraint/);
  });

  it('cancels a slow request with an attention', async () => {
    const connection = await connect(config());
    sql.faults.setLatency(2_000);
    const started = Date.now();
    const pending = run(connection, 'count 1').catch((e: unknown) => e);
    setTimeout(() => connection.cancel(), 50);
    expect(await pending).toMatchObject({ code: 'ECANCEL' });
    expect(Date.now() - started).toBeLessThan(1_500);
    sql.faults.setLatency(0);
    expect((await run(connection, 'count 4')).rowCount).toBe(4);
  });

  it('surfaces a dropped connection as a ConnectionError', async () => {
    const connection = await connect(config());
    sql.faults.setLatency(300);
    const pending = run(connection, 'count 1').catch((e: unknown) => e);
    setTimeout(() => sql.faults.dropConnections(), 50);
    // The request fails with the socket's own error; the connection reports a ConnectionError.
    expect(await pending).toMatchObject({ code: 'ECONNRESET' });
    await expect.poll(() => connectionErrors.get(connection)?.[0]).toBeInstanceOf(ConnectionError);
    expect(connectionErrors.get(connection)?.[0]).toMatchObject({ code: 'ESOCKET' });
  });

  it('drops the connection of the next request on demand', async () => {
    const connection = await connect(config());
    sql.faults.dropOnNextRequest();
    expect(await run(connection, 'count 1').catch((e: unknown) => e)).toMatchObject({ code: 'ECONNRESET' });
    const again = await connect(config());
    expect((await run(again, 'count 1')).rowCount).toBe(1);
  });

  it('ends the connection after a severity 20 error (40501 service busy)', async () => {
    const connection = await connect(config());
    sql.faults.failStatements(/^count/, 40501);
    const err = (await run(connection, 'count 1').catch((e: unknown) => e)) as RequestError;
    expect(err).toMatchObject({ number: 40501, class: 20 });
    await expect.poll(() => (connection as unknown as { closed: boolean }).closed).toBe(true);
  });

  it('bulk loads rows after an insert bulk statement', async () => {
    const connection = await connect(config());
    const bulk = connection.newBulkLoad('dbo.orders', (err, rowCount) => {
      results.push(err ?? rowCount);
    });
    const results: unknown[] = [];
    bulk.addColumn('id', TYPES.Int, { nullable: false });
    bulk.addColumn('name', TYPES.NVarChar, { length: 50, nullable: true });
    bulk.addColumn('amount', TYPES.Decimal, { precision: 10, scale: 2, nullable: true });
    connection.execBulkLoad(bulk, [
      [1, 'a', 1.5],
      [2, null, null],
    ]);
    await expect.poll(() => results).toEqual([2]);
    expect(engine.calls.filter((c) => c.kind === 'bulk').at(-1)).toEqual({
      kind: 'bulk',
      table: 'dbo.orders',
      columns: ['id', 'name', 'amount'],
      rows: [
        [1, 'a', '1.50'],
        [2, null, null],
      ],
    });
  });
});

describe('more of what tedious can ask', () => {
  it('refuses a stored procedure call other than sp_executesql with 2812', async () => {
    const connection = await connect(config());
    const err = await new Promise<unknown>((resolve) =>
      connection.callProcedure(new Request('dbo.usp_orders', resolve)),
    );
    expect(err).toMatchObject({ number: 2812, message: "Could not find stored procedure 'dbo.usp_orders'." });
  });

  it('resets a pooled connection and rolls its transaction back', async () => {
    const connection = await connect(config());
    await new Promise<void>((resolve, reject) =>
      connection.beginTransaction((err) => (err ? reject(err) : resolve())),
    );
    engine.calls.length = 0;
    await new Promise<void>((resolve, reject) => connection.reset((err) => (err ? reject(err) : resolve())));
    expect(engine.calls.map((c) => c.kind)).toEqual(['rollback']);
    expect((await run(connection, 'count 5')).rowCount).toBe(5);
  });

  it('leaves row counts out under SET NOCOUNT ON', async () => {
    const connection = await connect(config());
    await run(connection, 'SET NOCOUNT ON');
    expect((await run(connection, 'count 5')).rowCount).toBe(0);
  });
});

describe('transactions', () => {
  const call = <T>(fn: (cb: (err: Error | null | undefined) => void) => T): Promise<void> =>
    new Promise((resolve, reject) => {
      fn((err) => (err ? reject(err) : resolve()));
    });

  it('begins with the isolation level and commits through the transaction manager', async () => {
    const connection = await connect(config());
    engine.calls.length = 0;
    await call((cb) => connection.beginTransaction(cb, 'batch', ISOLATION_LEVEL.SERIALIZABLE));
    expect((connection as unknown as { inTransaction: boolean }).inTransaction).toBe(true);
    await run(connection, 'count 1');
    await call((cb) => connection.commitTransaction(cb));
    expect((connection as unknown as { inTransaction: boolean }).inTransaction).toBe(false);
    expect(engine.calls.map((c) => c.kind)).toEqual(['begin', 'execute', 'commit']);
    expect(engine.calls[0]).toEqual({ kind: 'begin', isolation: 'serializable' });
  });

  it('rolls back through the transaction manager', async () => {
    const connection = await connect(config());
    engine.calls.length = 0;
    await call((cb) => connection.beginTransaction(cb));
    await call((cb) => connection.rollbackTransaction(cb));
    expect(engine.calls.map((c) => c.kind)).toEqual(['begin', 'rollback']);
  });

  it("runs tedious' transaction() helper and rolls back on error", async () => {
    const connection = await connect(config());
    engine.calls.length = 0;
    await new Promise<void>((resolve, reject) => {
      connection.transaction((err, done) => {
        if (err || !done) return reject(err);
        run(connection, 'count 1').then(
          () => done(null, (e: Error | null | undefined) => (e ? reject(e) : resolve())),
          reject,
        );
      });
    });
    const failed = await new Promise<unknown>((resolve) => {
      connection.transaction((err, done) => {
        if (err || !done) return resolve(err);
        run(connection, 'fail 547').catch((e: Error) => done(e, (final: unknown) => resolve(final)));
      });
    });
    expect(failed).toMatchObject({ number: 547 });
    expect(engine.calls.map((c) => c.kind)).toEqual([
      'begin',
      'execute',
      'commit',
      'begin',
      'execute',
      'rollback',
    ]);
  });

  it('tells the client its transaction was rolled back when it is a deadlock victim', async () => {
    const connection = await connect(config());
    await call((cb) => connection.beginTransaction(cb));
    sql.faults.failStatements(/update/, 1205);
    const rolledBack = new Promise<void>((resolve) =>
      connection.once('rollbackTransaction', () => resolve()),
    );
    const err = (await run(connection, 'update t set x = 1').catch((e: unknown) => e)) as RequestError;
    expect(err).toMatchObject({ number: 1205, class: 13 });
    await rolledBack;
    expect((connection as unknown as { inTransaction: boolean }).inTransaction).toBe(false);
  });

  it('keeps the transaction open after a duplicate key error', async () => {
    const connection = await connect(config());
    await call((cb) => connection.beginTransaction(cb));
    sql.faults.failStatements(/insert/, 2627);
    await run(connection, 'insert into t values (1)').catch(() => undefined);
    expect((connection as unknown as { inTransaction: boolean }).inTransaction).toBe(true);
    await call((cb) => connection.commitTransaction(cb));
  });

  it('follows BEGIN TRAN and COMMIT in SQL text', async () => {
    const connection = await connect(config());
    await run(connection, 'begin tran');
    expect((connection as unknown as { inTransaction: boolean }).inTransaction).toBe(true);
    await run(connection, 'commit');
    expect((connection as unknown as { inTransaction: boolean }).inTransaction).toBe(false);
  });
});

describe('lifecycle', () => {
  it('closes idempotently and leaves nothing listening', async () => {
    const engine2 = createCannedEngine({ databases: { appdb: ['worker'] } });
    const other = await startSqlStandIn({ authority: identity, ca, engine: engine2 });
    const c = config();
    c.options = { ...c.options, port: other.port };
    await connect(c);
    expect(other.connections()).toBe(1);
    await Promise.all([other.close(), other.close()]);
    expect(other.connections()).toBe(0);
    expect(engine2.openSessions()).toBe(0);
    const err = await loginError(c);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err).toMatchObject({ code: 'ESOCKET' });
  });
});

describe('closing', () => {
  it('stops serving a client that goes away in the middle of its TLS handshake, so close() returns', async () => {
    const own = await startSqlStandIn({ authority: identity, ca, engine });
    const socket = connectTcp(own.port, '127.0.0.1');
    await once(socket, 'connect');
    // PRELOGIN asking for encryption (MS-TDS 2.2.6.5): ENCRYPTION at offset 6, length 1, ON.
    const payload = Buffer.from([0x01, 0x00, 0x06, 0x00, 0x01, 0xff, 0x01]);
    const header = Buffer.from([0x12, 0x01, 0x00, 8 + payload.length, 0x00, 0x00, 0x01, 0x00]);
    socket.write(Buffer.concat([header, payload]));
    // The answer says ON: the stand-in now waits for the client's ClientHello, which never comes.
    const [answer] = (await once(socket, 'data')) as [Buffer];
    expect(answer[0]).toBe(0x04);
    socket.destroy();
    await expect.poll(() => own.connections()).toBe(0);
    await own.close();
  });
});
