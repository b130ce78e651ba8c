import { describe, expect, it } from 'vitest';
import type { SqlConnection } from '../../src/sql/client.ts';
import { SqlError } from '../../src/sql/errors.ts';
import { createSqlPool, type SqlPoolOptions } from '../../src/sql/pool.ts';

type Fake = SqlConnection & { id: number; closedNow: boolean };

/** A pool over fake connections, with a clock the test moves. */
const setup = (
  overrides: Partial<SqlPoolOptions> = {},
  failures: unknown[] = [],
  tokenExpiresAt?: () => number,
) => {
  let clock = 1_000_000;
  const opened: Fake[] = [];
  const pool = createSqlPool({
    server: 'fake',
    database: 'keyless',
    authentication: { type: 'default', options: { userName: 'u', password: 'p' } },
    now: () => clock,
    acquireTimeoutMs: 50,
    async connect() {
      const failure = failures.shift();
      if (failure) throw failure;
      const fake: Fake = {
        id: opened.length + 1,
        closedNow: false,
        broken: false,
        tokenExpiresAt: tokenExpiresAt?.(),
        query: async () => ({ rows: [{ id: fake.id }], rowCount: 1 }),
        begin: async () => {},
        commit: async () => {},
        rollback: async () => {},
        close: async () => {
          fake.closedNow = true;
        },
      };
      opened.push(fake);
      return fake;
    },
    ...overrides,
  });
  return { pool, opened, advance: (ms: number) => (clock += ms) };
};

const expiredLogin = () =>
  new SqlError("Login failed for user '<token-identified principal>'. Token is expired.", {
    code: 'LoginFailed',
    transient: false,
    number: 18456,
  });

describe('SQL pool', () => {
  it('reuses an idle connection', async () => {
    const { pool, opened } = setup();
    await pool.query('SELECT 1');
    await pool.query('SELECT 1');
    expect(opened).toHaveLength(1);
    await pool.close();
    expect(opened[0]?.closedNow).toBe(true);
  });

  it('recycles a connection once it is older than tokenMaxAgeMs', async () => {
    const { pool, opened, advance } = setup({ tokenMaxAgeMs: 45 * 60_000 });
    await pool.query('SELECT 1');
    advance(44 * 60_000);
    await pool.query('SELECT 1');
    expect(opened).toHaveLength(1);
    advance(2 * 60_000);
    await pool.query('SELECT 1');
    expect(opened).toHaveLength(2);
    expect(opened[0]?.closedNow).toBe(true);
    await pool.close();
  });

  it('recycles a connection a minute before the token it logged in with expires, when that comes first', async () => {
    let now = 1_000_000;
    const { pool, opened, advance } = setup({ tokenMaxAgeMs: 45 * 60_000 }, [], () => now + 10 * 60_000);
    await pool.query('SELECT 1');
    now = advance(9 * 60_000 + 1);
    await pool.query('SELECT 1');
    expect(opened).toHaveLength(2);
    await pool.close();
  });

  it('logs in once more when the token was expired, and only once', async () => {
    const { pool, opened } = setup({}, [expiredLogin()]);
    expect((await pool.query('SELECT 1')).rows).toEqual([{ id: 1 }]);
    expect(opened).toHaveLength(1);
    const again = setup({}, [expiredLogin(), expiredLogin()]);
    await expect(again.pool.query('SELECT 1')).rejects.toMatchObject({ code: 'LoginFailed', number: 18456 });
    await pool.close();
    await again.pool.close();
  });

  it('does not retry other login failures', async () => {
    const { pool } = setup({}, [
      new SqlError("Login failed for user 'x'.", { code: 'LoginFailed', transient: false, number: 18456 }),
      undefined,
    ]);
    await expect(pool.query('SELECT 1')).rejects.toMatchObject({ code: 'LoginFailed' });
    await pool.close();
  });

  it('opens at most max connections and makes callers wait, then time out', async () => {
    const { pool, opened } = setup({ max: 2 });
    const a = await pool.acquire();
    const b = await pool.acquire();
    const waiting = pool.acquire();
    await expect(waiting).rejects.toMatchObject({ code: 'PoolExhausted', transient: true });
    const next = pool.acquire();
    pool.release(a);
    expect(await next).toBe(a);
    expect(opened).toHaveLength(2);
    pool.release(b);
    pool.release(a);
    await pool.close();
  });

  it('replaces a broken connection instead of handing it out again', async () => {
    const { pool, opened } = setup();
    const c = (await pool.acquire()) as Fake;
    (c as { broken: boolean }).broken = true;
    pool.release(c);
    await pool.query('SELECT 1');
    expect(opened).toHaveLength(2);
    expect(c.closedNow).toBe(true);
    await pool.close();
  });

  it('refuses work once closed', async () => {
    const { pool } = setup();
    await pool.close();
    await expect(pool.query('SELECT 1')).rejects.toMatchObject({ name: 'SqlError', code: 'PoolClosed' });
  });
});
