import type { Logger } from 'pino';
import { defaults } from '../defaults.ts';
import { isExpiredTokenLogin, toSqlError } from './classify.ts';
import { inTransaction, type SqlClient, type SqlConnection } from './client.ts';
import { openTediousConnection, type SqlConnectionOptions } from './connection.ts';
import { SqlError } from './errors.ts';

export type SqlPoolOptions = SqlConnectionOptions & {
  /** Connections kept open while idle. @defaultValue 0 */
  min?: number;
  /** Connections open at most; callers beyond it wait. @defaultValue 10 */
  max?: number;
  /**
   * Age after which a connection is closed instead of reused. tedious asks the credential for a
   * token only at login, and Azure SQL refuses a session whose token has expired once it must
   * re-authenticate, so a connection must not outlive its token: it is recycled at this age or a
   * minute before the token's own expiry, whichever comes first. Entra tokens live 60–90 min and
   * the identity library hands out a cached one until 5 min before expiry. @defaultValue 2700000 (45 min)
   */
  tokenMaxAgeMs?: number;
  /** How long `acquire` waits for a free connection before SqlError PoolExhausted. @defaultValue 15000 */
  acquireTimeoutMs?: number;
  /** Idle connections above `min` are closed after this long. @defaultValue 30000 */
  idleTimeoutMs?: number;
  /** @defaultValue a silent logger */
  logger?: Logger;
  /** Opens a connection; tests inject fakes. @defaultValue openTediousConnection */
  connect?: (options: SqlConnectionOptions) => Promise<SqlConnection>;
  /** @defaultValue Date.now */
  now?: () => number;
};

export type SqlPool = SqlClient & {
  /** A connection for the caller's exclusive use; give it back with `release`. */
  acquire(): Promise<SqlConnection>;
  release(connection: SqlConnection): void;
  stats(): { open: number; idle: number; waiting: number; created: number };
  /** Closes idle connections now and the others as they are released. Idempotent. */
  close(): Promise<void>;
};

type Entry = { connection: SqlConnection; createdAt: number; idleTimer?: NodeJS.Timeout };
type Waiter = { resolve: (c: SqlConnection) => void; reject: (e: unknown) => void; timer: NodeJS.Timeout };

const TOKEN_EXPIRY_MARGIN_MS = 60_000;

/**
 * A connection pool for tedious (which has none), aware of token lifetimes: see `tokenMaxAgeMs`.
 * A login refused because its token expired is retried once: by then the identity library has
 * refreshed its cached token (it cannot be told to bypass its cache).
 */
export const createSqlPool = (options: SqlPoolOptions): SqlPool => {
  const max = options.max ?? defaults.sqlPoolMax;
  const min = options.min ?? 0;
  const tokenMaxAgeMs = options.tokenMaxAgeMs ?? defaults.sqlTokenMaxAgeMs;
  const acquireTimeoutMs = options.acquireTimeoutMs ?? defaults.sqlAcquireTimeoutMs;
  const idleTimeoutMs = options.idleTimeoutMs ?? defaults.sqlIdleTimeoutMs;
  const connect = options.connect ?? openTediousConnection;
  const now = options.now ?? Date.now;
  const log = options.logger;
  const idle: Entry[] = [];
  const busy = new Map<SqlConnection, Entry>();
  const waiters: Waiter[] = [];
  let pending = 0;
  let created = 0;
  let closed = false;

  const expired = (e: Entry): boolean => {
    const t = now();
    if (t - e.createdAt >= tokenMaxAgeMs) return true;
    const exp = e.connection.tokenExpiresAt;
    return exp !== undefined && t >= exp - TOKEN_EXPIRY_MARGIN_MS;
  };

  const destroy = (e: Entry, why: string): void => {
    clearTimeout(e.idleTimer);
    log?.debug({ why }, 'closing SQL connection');
    void e.connection.close().catch(() => {});
  };

  const open = async (): Promise<Entry> => {
    pending++;
    try {
      let connection: SqlConnection;
      try {
        connection = await connect(options);
      } catch (e: unknown) {
        const err = toSqlError(e);
        if (!isExpiredTokenLogin(err)) throw err;
        log?.info(
          { code: err.code, number: err.number },
          'SQL login refused an expired token; logging in once more',
        );
        connection = await connect(options).catch((again: unknown) => {
          throw toSqlError(again);
        });
      }
      created++;
      return { connection, createdAt: now() };
    } finally {
      pending--;
    }
  };

  const hand = (e: Entry): void => {
    const waiter = waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      busy.set(e.connection, e);
      waiter.resolve(e.connection);
      return;
    }
    if (closed) {
      destroy(e, 'pool closed');
      return;
    }
    idle.push(e);
    if (idle.length > min) {
      e.idleTimer = setTimeout(() => {
        const i = idle.indexOf(e);
        if (i >= 0 && idle.length > min) {
          idle.splice(i, 1);
          destroy(e, 'idle');
        }
      }, idleTimeoutMs);
      e.idleTimer.unref();
    }
  };

  /** Opens a connection for the first waiter when there is room. */
  const grow = (): void => {
    if (closed || waiters.length <= pending || busy.size + idle.length + pending >= max) return;
    open().then(hand, (e: unknown) => {
      const waiter = waiters.shift();
      if (waiter) {
        clearTimeout(waiter.timer);
        waiter.reject(e);
      }
    });
  };

  const acquire = (): Promise<SqlConnection> => {
    if (closed)
      return Promise.reject(
        new SqlError('The SQL pool is closed.', { code: 'PoolClosed', transient: false }),
      );
    for (let e = idle.pop(); e; e = idle.pop()) {
      clearTimeout(e.idleTimer);
      if (e.connection.broken) destroy(e, 'broken');
      else if (expired(e)) destroy(e, 'token age');
      else {
        busy.set(e.connection, e);
        return Promise.resolve(e.connection);
      }
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(
            new SqlError(`No SQL connection became free within ${acquireTimeoutMs} ms.`, {
              code: 'PoolExhausted',
              transient: true,
            }),
          );
        }, acquireTimeoutMs),
      };
      waiters.push(waiter);
      grow();
    });
  };

  const release = (connection: SqlConnection): void => {
    const e = busy.get(connection);
    if (!e) return;
    busy.delete(connection);
    if (connection.broken || expired(e) || closed) {
      destroy(e, connection.broken ? 'broken' : 'token age');
      grow();
    } else hand(e);
  };

  const withConnection = async <T>(fn: (c: SqlConnection) => Promise<T>): Promise<T> => {
    const c = await acquire();
    try {
      return await fn(c);
    } finally {
      release(c);
    }
  };

  return {
    acquire,
    release,
    query: (sql, params) => withConnection((c) => c.query(sql, params)),
    transaction: (fn) => withConnection((c) => inTransaction(c, fn)),
    stats: () => ({ open: busy.size + idle.length, idle: idle.length, waiting: waiters.length, created }),
    async close() {
      closed = true;
      for (const w of waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new SqlError('The SQL pool is closed.', { code: 'PoolClosed', transient: false }));
      }
      await Promise.all(
        idle.splice(0).map((e) => {
          clearTimeout(e.idleTimer);
          return e.connection.close().catch(() => {});
        }),
      );
    },
  };
};
