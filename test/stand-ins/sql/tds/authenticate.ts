import type { Authority } from '../../identity.ts';
import type { SqlEngine, SqlServerErrorInfo, SqlSession } from '../engine-api.ts';
import type { FaultState } from './faults.ts';
import type { Login7 } from './login7.ts';
import { toErrorInfo } from './requests.ts';
import { loginFailed, sqlError } from './sql-errors.ts';

/** The resource Azure SQL names in FEDAUTHINFO; tokens must carry it as their audience. */
export const SQL_RESOURCE = 'https://database.windows.net/';

/** How a token login is named in Azure SQL's error messages: never by the identity's name. */
const TOKEN_PRINCIPAL = '<token-identified principal>';

export type LoginContext = {
  authority: Authority;
  engine: SqlEngine;
  faults: FaultState;
  serverName: string;
};

export type LoginOutcome = { ok: true; session: SqlSession } | { ok: false; errors: SqlServerErrorInfo[] };

/** Who the login is: the identity a token names, or a SQL login whose password checks. */
function principal(
  login: Login7,
  token: string | undefined,
  ctx: LoginContext,
): { ok: true; user: string; shownAs: string } | { ok: false; error: SqlServerErrorInfo } {
  if (token !== undefined) {
    const check = ctx.authority.verify(token, SQL_RESOURCE);
    if (!check.ok) {
      return {
        ok: false,
        error: loginFailed(TOKEN_PRINCIPAL, check.reason === 'expired' ? 'Token is expired.' : undefined),
      };
    }
    const identity = ctx.authority.identityByObjectId(check.claims.oid);
    if (!identity) return { ok: false, error: loginFailed(TOKEN_PRINCIPAL) };
    return { ok: true, user: identity.name, shownAs: TOKEN_PRINCIPAL };
  }
  if (!login.userName || !ctx.engine.checkPassword(login.userName, login.password)) {
    return { ok: false, error: loginFailed(login.userName) };
  }
  return { ok: true, user: login.userName, shownAs: login.userName };
}

/**
 * Checks a login as Azure SQL does: the principal, then the database named in LOGIN7 (4060 then
 * 18456 when it does not exist), then a user for the principal in that database (18456: a contained
 * user exists in one database, not in `master`).
 */
export async function authenticate(
  login: Login7,
  token: string | undefined,
  ctx: LoginContext,
): Promise<LoginOutcome> {
  const who = principal(login, token, ctx);
  if (!who.ok) return { ok: false, errors: [who.error] };
  const database = login.database || 'master';
  const fault = ctx.faults.loginFault({ database, server: ctx.serverName });
  if (fault) return { ok: false, errors: [fault] };
  if (!ctx.engine.hasDatabase(database)) {
    return { ok: false, errors: [sqlError(4060, { database }), loginFailed(who.shownAs)] };
  }
  if (!ctx.engine.hasUser(database, who.user)) return { ok: false, errors: [loginFailed(who.shownAs)] };
  try {
    return { ok: true, session: await ctx.engine.openSession(database, who.user) };
  } catch (err: unknown) {
    // The engine may still refuse (closed, user dropped meanwhile): the client gets its error, not a reset.
    const refused = toErrorInfo(err);
    return {
      ok: false,
      errors: refused.number === 18456 ? [loginFailed(who.shownAs)] : [refused, loginFailed(who.shownAs)],
    };
  }
}
