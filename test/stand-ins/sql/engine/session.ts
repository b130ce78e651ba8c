import type { PGlite } from '@electric-sql/pglite';
import type { IsolationLevel, SqlParam, SqlSession, SqlValue, StatementResult } from '../engine-api.ts';
import { type Catalog, isOwner } from './catalog.ts';
import { checkAccess } from './check-access.ts';
import { type DeclaredParam, quoteIdent, readMultipart, resolveTable } from './context.ts';
import { isPgError, toSqlServerError } from './errors.ts';
import { tokenize } from './lexer.ts';
import { runPrincipalPlan } from './principal-plans.ts';
import { toResultSet } from './results.ts';
import { normalise, sqlError } from './session-errors.ts';
import { newContext, type Plan, type QueryPlan, translateBatch } from './statements.ts';
import { parseDeclaredType } from './types.ts';

/** What sessions share: the one PostgreSQL session, its turn-taking, and the catalog. */
export type EngineCore = {
  pg: PGlite;
  database: string;
  catalog: Catalog;
  /** Waits for the engine's turn; rejects with SQL Server's lock timeout error after `lockTimeoutMs`. */
  acquire(): Promise<() => void>;
  resolveExternalPrincipal(name: string): boolean;
};

export const openEngineSession = (core: EngineCore, user: string): SqlSession => {
  const { pg, catalog, database } = core;
  let release: (() => void) | null = null;
  let trancount = 0;
  let xactAbort = false;
  let lastRowCount = 0;
  let closed = false;

  const principal = () => catalog.principals.get(user.toLowerCase());

  const beginTx = async (): Promise<void> => {
    if (trancount > 0) {
      trancount++;
      return;
    }
    release = await core.acquire();
    try {
      await pg.exec('BEGIN');
    } catch (e: unknown) {
      release();
      release = null;
      throw normalise(e);
    }
    trancount = 1;
  };
  const endTx = async (how: 'COMMIT' | 'ROLLBACK'): Promise<void> => {
    if (trancount === 0) {
      const n = how === 'COMMIT' ? 3902 : 3903;
      throw sqlError(n, 16, 1, `The ${how} TRANSACTION request has no corresponding BEGIN TRANSACTION.`);
    }
    if (how === 'COMMIT' && trancount > 1) {
      trancount--;
      return;
    }
    trancount = 0;
    try {
      await pg.exec(how);
    } finally {
      release?.();
      release = null;
    }
  };

  /** Runs `fn` as one statement: atomically on its own, or as a savepoint inside a transaction. */
  const statement = async <T>(
    verb: string,
    names: Map<string, string>,
    fn: () => Promise<T>,
    target?: { schema: string; table: string },
  ): Promise<T> => {
    const inTx = trancount > 0;
    const unlock = inTx ? null : await core.acquire();
    try {
      // A savepoint per statement gives SQL Server's statement-level rollback (XACT_ABORT OFF):
      // the failing statement leaves no trace and the transaction goes on.
      await pg.exec(inTx ? 'SAVEPOINT tsql_statement' : 'BEGIN');
      const result = await fn();
      await pg.exec(inTx ? 'RELEASE SAVEPOINT tsql_statement' : 'COMMIT');
      return result;
    } catch (e: unknown) {
      await pg.exec(
        inTx ? 'ROLLBACK TO SAVEPOINT tsql_statement; RELEASE SAVEPOINT tsql_statement' : 'ROLLBACK',
      );
      const mapped = isPgError(e)
        ? toSqlServerError(e, { catalog, database, verb, names, ...(target ? { target } : {}) })
        : normalise(e);
      if (inTx && xactAbort) await endTx('ROLLBACK');
      throw mapped;
    } finally {
      unlock?.();
    }
  };

  const runQuery = async (plan: QueryPlan, values: Map<string, SqlValue>): Promise<StatementResult> => {
    checkAccess(catalog, database, principal(), plan);
    const args = plan.params.map((p) =>
      p.kind === 'rowcount' ? lastRowCount : (values.get(p.name) ?? null),
    );
    const query = async (sql: string) => {
      try {
        await pg.exec('SAVEPOINT tsql_typing');
        const r = await pg.query<unknown[]>(sql, args, { rowMode: 'array' });
        await pg.exec('RELEASE SAVEPOINT tsql_typing');
        return r;
      } catch (e: unknown) {
        await pg.exec('ROLLBACK TO SAVEPOINT tsql_typing; RELEASE SAVEPOINT tsql_typing');
        throw e;
      }
    };
    const run = async () => {
      try {
        return await query(plan.sql);
      } catch (e: unknown) {
        // A string parameter PostgreSQL cannot place (`SELECT @p`) is NVARCHAR, as SQL Server declared it.
        if (!isPgError(e) || e.code !== '42P18' || plan.untyped.size === 0) throw e;
        return await query(
          plan.sql.replace(/\$(\d+)(?!\d|::)/g, (m, n: string) =>
            plan.untyped.has(Number(n)) ? `${m}::text` : m,
          ),
        );
      }
    };
    const verb = plan.ddl ? 'DDL' : (/^\s*(\w+)/.exec(plan.sql)?.[1]?.toUpperCase() ?? '');
    const target = plan.access.find((a) => a.permission !== 'SELECT');
    const r = await statement(verb, plan.names, run, target);
    plan.ddl?.apply(catalog);
    if (r.fields.length > 0) {
      lastRowCount = r.rows.length;
      return { kind: 'rows', resultSet: toResultSet(r.fields, r.rows, plan.names, catalog) };
    }
    lastRowCount = r.affectedRows ?? 0;
    return { kind: 'count', rowCount: lastRowCount };
  };

  const runPlan = async (
    plan: Plan,
    values: Map<string, SqlValue>,
    out: StatementResult[],
  ): Promise<void> => {
    switch (plan.kind) {
      case 'noop':
        return;
      case 'xactAbort':
        xactAbort = plan.on;
        return;
      case 'begin':
        return beginTx();
      case 'commit':
        return endTx('COMMIT');
      case 'rollback':
        return endTx('ROLLBACK');
      case 'query':
        out.push(await runQuery(plan, values));
        return;
      case 'if': {
        const r = await runQuery(plan.cond, values);
        if (r.kind === 'rows' && r.resultSet.rows[0]?.[0] === 1) await runPlan(plan.body, values, out);
        return;
      }
      case 'createUser':
      case 'dropUser':
      case 'alterRole':
        runPrincipalPlan(core, user, plan);
        return;
    }
  };

  return {
    user,
    database,
    get inTransaction() {
      return trancount > 0;
    },
    async execute(sql: string, params: readonly SqlParam[] = []): Promise<StatementResult[]> {
      if (closed) throw sqlError(50000, 16, 1, 'Session is closed.');
      const declared = new Map<string, DeclaredParam>();
      const values = new Map<string, SqlValue>();
      const out: StatementResult[] = [];
      try {
        for (const p of params) {
          const name = p.name.startsWith('@') ? p.name : `@${p.name}`;
          declared.set(name.toUpperCase(), { name, type: parseDeclaredType(tokenize(p.declaredType)) });
          values.set(name.toUpperCase(), p.value);
        }
        const plans = translateBatch(sql, {
          database,
          user,
          catalog,
          declared,
          inTransaction: trancount > 0,
        });
        for (const plan of plans) await runPlan(plan, values, out);
        return out;
      } catch (e: unknown) {
        throw normalise(e);
      }
    },
    async bulkInsert(
      table: string,
      columns: readonly string[],
      rows: readonly SqlValue[][],
    ): Promise<number> {
      const { parts } = readMultipart(tokenize(table), 0);
      const { schema, table: name } = resolveTable(
        newContext({ database, user, catalog, declared: new Map(), inTransaction: false }),
        parts,
      );
      const p = principal();
      if (!isOwner(p) && !p?.roles.has('db_datawriter')) {
        throw sqlError(
          229,
          14,
          5,
          `The INSERT permission was denied on the object '${name}', database '${database}', schema '${schema}'.`,
        );
      }
      const target = `${quoteIdent(schema)}.${quoteIdent(name)} (${columns.map(quoteIdent).join(', ')})`;
      const perChunk = Math.max(1, Math.floor(30000 / Math.max(1, columns.length)));
      let count = 0;
      await statement('INSERT', new Map(), async () => {
        for (let i = 0; i < rows.length; i += perChunk) {
          const chunk = rows.slice(i, i + perChunk);
          const tuples = chunk.map(
            (_, r) => `(${columns.map((_c, c) => `$${r * columns.length + c + 1}`).join(', ')})`,
          );
          const res = await pg.query(`INSERT INTO ${target} VALUES ${tuples.join(', ')}`, chunk.flat());
          count += res.affectedRows ?? 0;
        }
      });
      lastRowCount = count;
      return count;
    },
    begin(_isolation: IsolationLevel) {
      if (closed) return Promise.reject(sqlError(50000, 16, 1, 'Session is closed.'));
      return beginTx();
    },
    commit: () => endTx('COMMIT'),
    rollback: () => endTx('ROLLBACK'),
    async close() {
      if (closed) return;
      closed = true;
      if (trancount > 0) {
        trancount = 1;
        await endTx('ROLLBACK').catch(() => {});
      }
    },
  };
};
