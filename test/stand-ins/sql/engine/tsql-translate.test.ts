import { describe, expect, it } from 'vitest';
import { createCatalog } from './catalog.ts';
import type { DeclaredParam } from './context.ts';
import { tokenize } from './lexer.ts';
import { type Plan, translateBatch } from './statements.ts';
import { parseDeclaredType } from './types.ts';

const declare = (params: Record<string, string>): Map<string, DeclaredParam> =>
  new Map(
    Object.entries(params).map(([n, t]) => [
      n.toUpperCase(),
      { name: n, type: parseDeclaredType(tokenize(t)) },
    ]),
  );

const translate = (sql: string, params: Record<string, string> = {}): Plan[] =>
  translateBatch(sql, {
    database: 'keyless',
    user: 'dbo',
    catalog: createCatalog(),
    declared: declare(params),
    inTransaction: false,
  });

const pg = (sql: string, params: Record<string, string> = {}): string => {
  const [plan] = translate(sql, params);
  if (plan?.kind !== 'query') throw new Error(`not a query: ${plan?.kind}`);
  return plan.sql;
};

const refusal = (sql: string, params: Record<string, string> = {}): { number: number; message: string } => {
  try {
    translate(sql, params);
  } catch (e: unknown) {
    const { number, message } = e as { number: number; message: string };
    return { number, message };
  }
  throw new Error('translated');
};

describe('T-SQL tokenizer', () => {
  it('reads bracketed identifiers, N strings with doubled quotes, parameters and nested comments', () => {
    const tokens = tokenize(
      "SELECT [Order Id], N'it''s' /* a /* nested */ comment */ FROM t -- tail\nWHERE x = @p",
    );
    expect(tokens.map((t) => `${t.kind}:${t.text}`)).toEqual([
      'word:SELECT',
      'qident:Order Id',
      'punct:,',
      "string:it's",
      'word:FROM',
      'word:t',
      'word:WHERE',
      'word:x',
      'punct:=',
      'param:@p',
    ]);
  });

  it('refuses an unclosed string', () => {
    expect(() => tokenize("SELECT 'abc")).toThrow(/Unclosed quotation mark/);
  });
});

describe('T-SQL translation', () => {
  it('lower-cases and quotes identifiers and maps dbo to the dbo schema', () => {
    expect(pg('SELECT o.OrderId, [Status] FROM dbo.Orders AS o')).toBe(
      'SELECT "o"."orderid" , "status" FROM "dbo"."orders" AS "o"',
    );
  });

  it('turns @params into $n, typed by their declaration, and leaves strings for PostgreSQL to infer', () => {
    expect(
      pg('SELECT * FROM dbo.T WHERE Id = @id AND Name = @name AND Id <> @id', {
        '@id': 'uniqueidentifier',
        '@name': 'nvarchar(20)',
      }),
    ).toBe('SELECT * FROM "dbo"."t" WHERE "id" = $1::uuid AND "name" = $2 AND "id" <> $1::uuid');
  });

  it('refuses a parameter that is not declared, with 137', () => {
    expect(refusal('SELECT @nope')).toMatchObject({
      number: 137,
      message: 'Must declare the scalar variable "@nope".',
    });
  });

  it('turns SELECT TOP (n) into LIMIT at the end of its own query level', () => {
    expect(pg('SELECT TOP (5) a FROM t WHERE EXISTS (SELECT TOP 1 b FROM u)')).toBe(
      'SELECT "a" FROM "dbo"."t" WHERE EXISTS (SELECT "b" FROM "dbo"."u" LIMIT 1) LIMIT 5',
    );
  });

  it('drops locking hints the serialized engine honours by construction', () => {
    expect(
      pg(
        'UPDATE dbo.T WITH (UPDLOCK, SERIALIZABLE) SET a = 1 FROM dbo.U AS u WITH (HOLDLOCK, ROWLOCK) WHERE u.Id = T.Id',
      ),
    ).toBe('UPDATE "dbo"."t" SET "a" = 1 FROM "dbo"."u" AS "u" WHERE "u"."id" = "t"."id"');
  });

  it('refuses hints whose behaviour it would not reproduce', () => {
    expect(refusal('SELECT a FROM t WITH (NOLOCK)').number).toBe(40517);
    expect(refusal('SELECT a FROM t WITH (READPAST)').message).toMatch(/'READPAST'/);
  });

  it('translates OPENJSON … WITH into a derived table over jsonb_array_elements', () => {
    const sql = pg("SELECT j.A FROM OPENJSON(@j) WITH (A INT '$.a', B NVARCHAR(MAX) '$.b' AS JSON) AS j", {
      '@j': 'nvarchar(max)',
    });
    expect(sql).toContain('jsonb_array_elements');
    expect(sql).toContain(`(($1)::jsonb)`);
    expect(sql).toContain(`#>> '{"a"}'`);
    expect(sql).toContain(`::integer AS "a"`);
    expect(sql).toContain(`#> '{"b"}')::text AS "b"`);
    expect(sql.endsWith('AS "j"')).toBe(true);
  });

  it('refuses AS JSON on a column that is not nvarchar(max), with 13618', () => {
    expect(
      refusal("SELECT * FROM OPENJSON(@j) WITH (A INT '$.a' AS JSON)", { '@j': 'nvarchar(max)' }).number,
    ).toBe(13618);
  });

  it('refuses strict JSON paths', () => {
    expect(
      refusal("SELECT * FROM OPENJSON(@j) WITH (A INT 'strict $.a')", { '@j': 'nvarchar(max)' }).number,
    ).toBe(40517);
  });

  it('maps CROSS APPLY to CROSS JOIN LATERAL', () => {
    expect(pg("SELECT l.X FROM dbo.T AS t CROSS APPLY OPENJSON(t.J) WITH (X INT '$.x') AS l")).toContain(
      'CROSS JOIN LATERAL (SELECT',
    );
  });

  it('maps the clock, identity and NEWID built-ins', () => {
    expect(pg('SELECT SYSUTCDATETIME(), SYSDATETIMEOFFSET(), NEWID(), DB_NAME(), USER_NAME()')).toBe(
      "SELECT (clock_timestamp() AT TIME ZONE 'UTC')::timestamp(6) , clock_timestamp() , gen_random_uuid() , 'keyless'::varchar(128) , 'dbo'::varchar(128)",
    );
  });

  it('translates CAST types and ISNULL', () => {
    expect(pg("SELECT CAST(a AS DECIMAL(19, 2)), ISNULL(b, N'x') FROM t")).toBe(
      `SELECT CAST("a" AS numeric(19,2)) , coalesce("b", 'x') FROM "dbo"."t"`,
    );
  });

  it('translates CREATE TABLE types, named constraints and defaults', () => {
    const sql = pg(
      'CREATE TABLE dbo.T (Id UNIQUEIDENTIFIER NOT NULL CONSTRAINT PK_T PRIMARY KEY CLUSTERED, N NVARCHAR(MAX) NULL, C CHAR(3), D DATETIME2(7) CONSTRAINT DF_D DEFAULT (SYSUTCDATETIME()), O DATETIMEOFFSET(3), B BIT, V VARBINARY(MAX), X BIGINT, Q INT CONSTRAINT CK_Q CHECK (Q > 0))',
    );
    expect(sql).toBe(
      'CREATE TABLE "dbo"."t" ("id" uuid NOT NULL CONSTRAINT "pk_t" PRIMARY KEY , "n" text NULL, "c" char(3), "d" timestamp(6) DEFAULT ((clock_timestamp() AT TIME ZONE \'UTC\')::timestamp(6)), "o" timestamptz(3), "b" boolean, "v" bytea, "x" bigint, "q" integer CONSTRAINT "ck_q" CHECK ("q" > 0))',
    );
  });

  it('names index per table, as SQL Server scopes index names', () => {
    expect(pg('CREATE UNIQUE NONCLUSTERED INDEX IX_A ON dbo.T (A DESC) INCLUDE (B)')).toBe(
      'CREATE UNIQUE INDEX "t.ix_a" ON "dbo"."t" ("a" DESC) INCLUDE ("b")',
    );
  });

  it('runs IF OBJECT_ID(…) IS NULL as a condition and a statement', () => {
    const [plan] = translate("IF OBJECT_ID(N'dbo.T', N'U') IS NULL CREATE TABLE dbo.T (A INT)");
    expect(plan).toMatchObject({
      kind: 'if',
      cond: { sql: `SELECT CASE WHEN to_regclass('"dbo"."t"')::oid::integer IS NULL THEN 1 ELSE 0 END` },
    });
  });

  it('accepts the SET options tedious sends after login, without semicolons', () => {
    const plans = translate(
      'set textsize 2147483647\nset quoted_identifier on\nset arithabort off\nset ansi_nulls on\nset transaction isolation level read committed\nset xact_abort on',
    );
    expect(plans.map((p) => p.kind)).toEqual(['noop', 'noop', 'noop', 'noop', 'noop', 'xactAbort']);
  });

  it('refuses SET options whose behaviour differs', () => {
    expect(refusal('SET ANSI_NULLS OFF').message).toBe(
      "Keyword or statement option 'SET ANSI_NULLS OFF' is not supported in this version of SQL Server.",
    );
    expect(refusal('SET IMPLICIT_TRANSACTIONS ON').number).toBe(40517);
  });

  it('reads CREATE USER FROM EXTERNAL PROVIDER and ALTER ROLE … ADD MEMBER', () => {
    expect(
      translate('CREATE USER [my-app] FROM EXTERNAL PROVIDER; ALTER ROLE db_datawriter ADD MEMBER [my-app]'),
    ).toEqual([
      { kind: 'createUser', name: 'my-app' },
      { kind: 'alterRole', role: 'db_datawriter', member: 'my-app', add: true },
    ]);
  });

  it.each([
    ['MERGE dbo.T AS t USING dbo.U AS u ON t.Id = u.Id WHEN MATCHED THEN DELETE', 'MERGE'],
    ['EXEC sp_who', 'EXEC'],
    ['DECLARE @x INT', 'DECLARE'],
    ['SELECT a INTO dbo.Copy FROM dbo.T', 'SELECT … INTO'],
    ['SELECT * FROM #tmp', '#tmp (temporary table)'],
    ['SELECT CONVERT(INT, a) FROM t', 'CONVERT'],
    ['SELECT a FROM t FOR JSON PATH', 'FOR'],
    ['UPDATE TOP (1) t SET a = 1', 'UPDATE TOP'],
    ['CREATE TABLE t (a MONEY)', 'money'],
    ['SELECT a FROM t OPTION (RECOMPILE)', 'OPTION'],
  ])('refuses %s naming %s', (sql, what) => {
    expect(refusal(sql)).toEqual({
      number: 40517,
      message: `Keyword or statement option '${what}' is not supported in this version of SQL Server.`,
    });
  });

  it('refuses an unknown built-in with 195', () => {
    expect(refusal('SELECT pg_sleep(1)')).toEqual({
      number: 195,
      message: "'pg_sleep' is not a recognized built-in function name.",
    });
  });

  it('refuses PostgreSQL schemas as invalid objects', () => {
    expect(refusal('SELECT * FROM pg_catalog.pg_user').number).toBe(208);
  });
});
