import { ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import {
  Connection,
  type ConnectionConfiguration,
  ISOLATION_LEVEL,
  Request,
  type RequestError,
  type TYPES,
} from 'tedious';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLocalCa, type LocalCa } from '../stand-ins/ca.ts';
import {
  type IdentityStandIn,
  startIdentityStandIn,
  type UserAssignedIdentity,
} from '../stand-ins/identity.ts';
import { type SqlStandIn, startSqlStandIn } from '../stand-ins/sql/index.ts';
import { type CannedEngine, createCannedEngine } from '../stand-ins/sql/tds/canned-engine.ts';
import { trustCertificateAuthority } from '../stand-ins/tls-trust.ts';

let identity: IdentityStandIn;
let ca: LocalCa;
let engine: CannedEngine;
let sql: SqlStandIn;
let worker: UserAssignedIdentity;
let stranger: UserAssignedIdentity;
let credential: ManagedIdentityCredential;
const open: Connection[] = [];

beforeAll(async () => {
  identity = await startIdentityStandIn();
  // The identity source is fixed at the process's first getToken: point it at the stand-in first.
  process.env.IDENTITY_ENDPOINT = identity.endpoint;
  process.env.IDENTITY_HEADER = identity.header;
  worker = identity.addIdentity('worker');
  stranger = identity.addIdentity('stranger');
  ca = createLocalCa();
  // Production trusts the CA through NODE_EXTRA_CA_CERTS (default trust); this is the same store.
  trustCertificateAuthority(ca.certPem);
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

function connect(c: ConnectionConfiguration): Promise<Connection> {
  const connection = new Connection(c);
  open.push(connection);
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
