import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SqlEngine, SqlParam, SqlSession, StatementResult } from '../engine-api.ts';
import { createPgliteEngine } from './index.ts';

let engine: SqlEngine;
let admin: SqlSession;

beforeAll(async () => {
  // One engine per file: starting PGlite takes seconds. Each test gets a fresh table and users.
  engine = await createPgliteEngine({
    logins: [{ login: 'local_admin', password: 'Local-only-1', roles: ['db_owner'] }],
    lockTimeoutMs: 2_000,
  });
  admin = await engine.openSession('keyless', 'dbo');
});

beforeEach(async () => {
  await admin.execute('SET XACT_ABORT OFF; DROP TABLE IF EXISTS dbo.Orders; DROP USER IF EXISTS [worker]');
  await admin.execute(`CREATE TABLE dbo.Orders (
    OrderId UNIQUEIDENTIFIER NOT NULL CONSTRAINT PK_Orders PRIMARY KEY,
    Code NVARCHAR(8) NOT NULL CONSTRAINT UQ_Orders_Code UNIQUE,
    Currency CHAR(3) NULL,
    Total DECIMAL(19, 2) NULL,
    Qty INT NULL CONSTRAINT CK_Orders_Qty CHECK (Qty > 0),
    At DATETIME2(7) NULL)`);
  await admin.execute('CREATE UNIQUE INDEX IX_Orders_Total ON dbo.Orders (Total)');
});

afterAll(async () => {
  await engine.close();
});

const ID = '6f9619ff-8b86-d011-b42d-00c04fc964ff';
const idParam = (value = ID): SqlParam => ({ name: '@id', declaredType: 'uniqueidentifier', value });
const insert = (s: SqlSession, code: string, extra = '', id = ID): Promise<StatementResult[]> =>
  s.execute(
    `INSERT INTO dbo.Orders (OrderId, Code${extra ? ', Total' : ''}) VALUES (@id, N'${code}'${extra ? `, ${extra}` : ''})`,
    [idParam(id)],
  );
const failure = async (
  p: Promise<unknown>,
): Promise<{ number: number; message: string; severity: number }> => {
  try {
    await p;
  } catch (e: unknown) {
    return e as { number: number; message: string; severity: number };
  }
  throw new Error('succeeded');
};
const rows = (r: StatementResult[]): unknown[][] =>
  r.at(-1)?.kind === 'rows' ? (r.at(-1) as { resultSet: { rows: unknown[][] } }).resultSet.rows : [];

describe('SQL engine on PGlite', () => {
  it('returns uniqueidentifier upper-case, decimal as text with its scale, datetime2 as Date', async () => {
    await admin.execute(
      "INSERT INTO dbo.Orders (OrderId, Code, Total, At) VALUES (@id, N'a', 12.5, '2024-01-02T03:04:05.123')",
      [idParam()],
    );
    const [r] = await admin.execute('SELECT OrderId, Total, At, Code FROM dbo.Orders');
    expect(r).toMatchObject({
      kind: 'rows',
      resultSet: {
        columns: [
          { name: 'OrderId', type: { kind: 'uniqueidentifier' } },
          { name: 'Total', type: { kind: 'decimal', scale: 2 } },
          { name: 'At', type: { kind: 'datetime2' } },
          { name: 'Code', type: { kind: 'nvarchar' } },
        ],
        rows: [[ID.toUpperCase(), '12.50', new Date('2024-01-02T03:04:05.123Z'), 'a']],
      },
    });
  });

  it('leaves an expression column unnamed, as SQL Server does', async () => {
    const [r] = await admin.execute('SELECT COUNT(*), DB_NAME() AS Db FROM dbo.Orders');
    expect(r).toMatchObject({
      resultSet: { columns: [{ name: '', type: { kind: 'int' } }, { name: 'Db' }], rows: [[0, 'keyless']] },
    });
  });

  it('names a column after a word T-SQL does not reserve (first, next, rows), as spelled', async () => {
    const [r] = await admin.execute(
      'SELECT MIN(Qty) AS first, MAX(Qty) AS Next, COUNT(*) AS rows FROM dbo.Orders',
    );
    expect(r).toMatchObject({
      resultSet: { columns: [{ name: 'first' }, { name: 'Next' }, { name: 'rows' }] },
    });
  });

  it('reports a duplicate primary key as 2627 and a duplicate unique index row as 2601', async () => {
    await insert(admin, 'a', '1.00');
    expect(await failure(insert(admin, 'b'))).toMatchObject({
      number: 2627,
      severity: 14,
      message: `Violation of PRIMARY KEY constraint 'PK_Orders'. Cannot insert duplicate key in object 'dbo.Orders'. The duplicate key value is (${ID}).`,
    });
    expect((await failure(insert(admin, 'a', undefined, crypto.randomUUID()))).message).toMatch(
      /^Violation of UNIQUE KEY constraint 'UQ_Orders_Code'/,
    );
    expect(await failure(insert(admin, 'c', '1.00', crypto.randomUUID()))).toMatchObject({
      number: 2601,
      message:
        "Cannot insert duplicate key row in object 'dbo.Orders' with unique index 'IX_Orders_Total'. The duplicate key value is (1.00).",
    });
  });

  it.each([
    [
      'INSERT INTO dbo.Orders (OrderId) VALUES (NEWID())',
      515,
      "Cannot insert the value NULL into column 'Code', table 'keyless.dbo.Orders'; column does not allow nulls. INSERT fails.",
    ],
    [
      "INSERT INTO dbo.Orders (OrderId, Code, Qty) VALUES (NEWID(), N'q', 0)",
      547,
      'The INSERT statement conflicted with the CHECK constraint "CK_Orders_Qty". The conflict occurred in database "keyless", table "dbo.Orders", column \'Qty\'.',
    ],
    [
      "INSERT INTO dbo.Orders (OrderId, Code, Qty) VALUES (NEWID(), N'q', 'many')",
      245,
      "Conversion failed when converting the nvarchar value 'many' to data type int.",
    ],
    [
      "INSERT INTO dbo.Orders (OrderId, Code) VALUES ('not-a-guid', N'q')",
      8169,
      'Conversion failed when converting from a character string to uniqueidentifier.',
    ],
    [
      "INSERT INTO dbo.Orders (OrderId, Code, Total) VALUES (NEWID(), N'q', 'x')",
      8114,
      'Error converting data type nvarchar to numeric.',
    ],
    [
      "INSERT INTO dbo.Orders (OrderId, Code, Total) VALUES (NEWID(), N'q', 1e20)",
      8115,
      'Arithmetic overflow error converting numeric to data type numeric.',
    ],
    [
      "INSERT INTO dbo.Orders (OrderId, Code, Currency) VALUES (NEWID(), N'q', 'EURO')",
      2628,
      "String or binary data would be truncated in table 'keyless.dbo.Orders', column 'Currency'.",
    ],
    ['SELECT * FROM dbo.Missing', 208, "Invalid object name 'dbo.Missing'."],
    ['SELECT Missing FROM dbo.Orders', 207, "Invalid column name 'Missing'."],
    ["SELECT * FROM OPENJSON(N'{oops')", 13609, undefined],
  ])('maps %s to SQL Server error %i', async (sql, number, message) => {
    const e = await failure(admin.execute(sql));
    expect(e.number).toBe(number);
    if (message) expect(e.message).toBe(message);
  });

  it('rolls back only the failing statement inside a transaction (XACT_ABORT OFF)', async () => {
    await admin.begin('read committed');
    await insert(admin, 'a');
    await failure(insert(admin, 'b'));
    await insert(admin, 'c', undefined, crypto.randomUUID());
    await admin.commit();
    expect(rows(await admin.execute('SELECT Code FROM dbo.Orders ORDER BY Code'))).toEqual([['a'], ['c']]);
  });

  it('rolls back the whole transaction on an error under SET XACT_ABORT ON', async () => {
    await admin.execute('SET XACT_ABORT ON');
    await admin.begin('read committed');
    await insert(admin, 'a');
    await failure(insert(admin, 'b'));
    expect(admin.inTransaction).toBe(false);
    expect(rows(await admin.execute('SELECT COUNT(*) FROM dbo.Orders'))).toEqual([[0]]);
  });

  it('makes other sessions wait for a transaction, so they never see its uncommitted rows', async () => {
    const other = await engine.openSession('keyless', 'local_admin');
    await admin.begin('read committed');
    await insert(admin, 'a');
    const read = other.execute('SELECT COUNT(*) FROM dbo.Orders');
    await new Promise((r) => setTimeout(r, 50));
    await admin.rollback();
    expect(rows(await read)).toEqual([[0]]);
    await other.close();
  });

  it('times out a statement waiting for another transaction with 1222', async () => {
    const other = await engine.openSession('keyless', 'local_admin');
    await admin.begin('read committed');
    expect((await failure(other.execute('SELECT 1'))).number).toBe(1222);
    await admin.rollback();
    expect(rows(await other.execute('SELECT 1 AS one'))).toEqual([[1]]);
  });

  it('enforces roles: reader, writer and DDL, with SQL Server numbers', async () => {
    await admin.execute(
      'CREATE USER [worker] FROM EXTERNAL PROVIDER; ALTER ROLE db_datareader ADD MEMBER [worker]',
    );
    expect(engine.hasUser('keyless', 'WORKER')).toBe(true);
    const worker = await engine.openSession('keyless', 'worker');
    expect(rows(await worker.execute('SELECT COUNT(*) FROM dbo.Orders'))).toEqual([[0]]);
    expect(await failure(insert(worker, 'a'))).toMatchObject({
      number: 229,
      message: "The INSERT permission was denied on the object 'Orders', database 'keyless', schema 'dbo'.",
    });
    expect(await failure(worker.execute('CREATE TABLE dbo.X (A INT)'))).toMatchObject({
      number: 262,
      message: "CREATE TABLE permission denied in database 'keyless'.",
    });
    expect((await failure(worker.execute('CREATE USER [x] FROM EXTERNAL PROVIDER'))).number).toBe(15247);
    await admin.execute(
      'ALTER ROLE db_datawriter ADD MEMBER [worker]; ALTER ROLE db_datareader DROP MEMBER [worker]',
    );
    // Writing with a WHERE reads the target: SELECT permission is needed too.
    expect((await failure(worker.execute("DELETE FROM dbo.Orders WHERE Code = N'a'"))).message).toMatch(
      /^The SELECT permission was denied on the object 'Orders'/,
    );
    await insert(worker, 'a');
    await worker.close();
  });

  it('checks SQL logins by password and refuses unknown databases and users', async () => {
    expect(engine.checkPassword('LOCAL_ADMIN', 'Local-only-1')).toBe(true);
    expect(engine.checkPassword('local_admin', 'wrong')).toBe(false);
    expect(engine.hasDatabase('master')).toBe(false);
    expect((await failure(engine.openSession('keyless', 'nobody'))).number).toBe(18456);
  });

  it('loads rows in bulk', async () => {
    const n = await admin.bulkInsert(
      'dbo.Orders',
      ['OrderId', 'Code'],
      [
        [ID, 'a'],
        [crypto.randomUUID(), 'b'],
      ],
    );
    expect(n).toBe(2);
  });

  it('adds dateparts with DATEADD as SQL Server does: month ends clamp, fractions truncate, negatives subtract', async () => {
    const r = await admin.execute(
      `SELECT DATEADD(month, 1, CAST('2024-01-31T10:00:00' AS DATETIME2(7))) AS a,
        DATEADD(day, 0 - @days, CAST('2024-03-01T00:00:00' AS DATETIME2(7))) AS b,
        DATEADD(ms, 1500.9, CAST('2024-03-01T00:00:00' AS DATETIME2(7))) AS c,
        DATEADD(qq, 1, CAST('2024-11-30T00:00:00' AS DATETIME2(7))) AS d`,
      [{ name: '@days', declaredType: 'int', value: 1 }],
    );
    const [row] = rows(r) as [Date, Date, Date, Date][];
    expect(row?.map((d) => new Date(d).toISOString())).toEqual([
      '2024-02-29T10:00:00.000Z',
      '2024-02-29T00:00:00.000Z',
      '2024-03-01T00:00:01.500Z',
      '2025-02-28T00:00:00.000Z',
    ]);
    expect(await failure(admin.execute('SELECT DATEADD(nanosecond, 1, SYSUTCDATETIME())'))).toMatchObject({
      message: expect.stringContaining('DATEADD with the datepart nanosecond'),
    });
  });
});
