import type { SqlConnection, SqlParamType } from '../../../../src/sql/client.ts';
import type { SqlEngine, SqlParam, SqlSession } from '../engine-api.ts';

/**
 * What tedious raises for an ERROR token: a RequestError with SQL Server's number, state and class.
 * The product's classifier (src/sql/classify.ts) then decides about it, as it does on the wire, so a
 * bug in that classifier shows here instead of being shared with the stand-in.
 */
const asDriverError = (e: unknown): unknown => {
  if (!(e instanceof Error) || e.name !== 'SqlServerError') return e;
  const info = e as Error & { number: number; state: number; severity: number };
  return Object.assign(new Error(info.message), {
    name: 'RequestError',
    code: 'EREQUEST',
    number: info.number,
    state: info.state,
    class: info.severity,
  });
};

/** The declared types tedious sends for the SQL layer's parameter types. */
const DECLARED: Record<SqlParamType, (value: unknown) => string> = {
  nvarchar: (v) => (typeof v === 'string' && v.length > 4000 ? 'nvarchar(max)' : 'nvarchar(4000)'),
  int: () => 'int',
  bigint: () => 'bigint',
  bit: () => 'bit',
  decimal: (v) => {
    const text = String(v ?? '0');
    return `decimal(38,${text.includes('.') ? text.length - text.indexOf('.') - 1 : 0})`;
  },
  uniqueidentifier: () => 'uniqueidentifier',
  datetime2: () => 'datetime2(7)',
  datetimeoffset: () => 'datetimeoffset(7)',
};

/**
 * A SqlConnection straight on an engine session, without TDS: for tests of the SQL layer that
 * need no wire (the wire path is covered through tedious against the TDS stand-in). Its errors are
 * the driver's, not yet classified.
 */
export const engineConnection = (session: SqlSession, tokenExpiresAt?: number): SqlConnection => {
  let broken = false;
  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e: unknown) {
      throw asDriverError(e);
    }
  };
  return {
    query: (sql, params) =>
      guard(async () => {
        const list: SqlParam[] = Object.entries(params ?? {}).map(([name, p]) => ({
          name: `@${name}`,
          declaredType: DECLARED[p.type](p.value),
          value: p.value,
        }));
        const results = await session.execute(sql, params ? list : undefined);
        let rows: Record<string, unknown>[] = [];
        let rowCount = 0;
        for (const r of results) {
          if (r.kind === 'count') rowCount += r.rowCount;
          else {
            rows = r.resultSet.rows.map((values) =>
              Object.fromEntries(r.resultSet.columns.map((c, i) => [c.name, values[i]])),
            );
            rowCount += rows.length;
          }
        }
        return { rows, rowCount };
      }),
    begin: () => guard(() => session.begin('read committed')),
    commit: () => guard(() => session.commit()),
    rollback: () => guard(() => session.rollback()),
    close: async () => {
      broken = true;
      await session.close();
    },
    get broken() {
      return broken;
    },
    tokenExpiresAt,
  };
};

/** Opens an engine-backed connection as `user`. */
export const connectEngine = async (
  engine: SqlEngine,
  user: string,
  database = 'keyless',
): Promise<SqlConnection> => engineConnection(await engine.openSession(database, user));
