import type { SqlServerErrorInfo } from '../engine-api.ts';
import { sqlError } from './sql-errors.ts';

/** Faults a test injects into the stand-in. */
export type SqlFaults = {
  /**
   * The next `count` statements (batch text or `sp_executesql` statement) matching `pattern` fail
   * with SQL Server error `errorNumber`, worded as SQL Server words it. Severity 20 errors (40501,
   * 40197) also end the connection, as Azure does. @defaultValue count 1
   */
  failStatements(pattern: RegExp, errorNumber: number, count?: number): void;
  /**
   * Until `untilMs` (epoch ms), a `share` of the statements matching `pattern` fail with
   * `errorNumber`: an outage of a while rather than of a count. A later call replaces an earlier one.
   * @defaultValue share 1
   */
  failStatementsUntil(pattern: RegExp, errorNumber: number, untilMs: number, share?: number): void;
  /** Until `untilMs`, a `share` of the logins fail with `errorNumber`, as during a failover. @defaultValue share 1 */
  failLoginsUntil(errorNumber: number, untilMs: number, share?: number): void;
  /** The next `count` logins fail with `errorNumber` (40613, 4060, 18456…) after the token checks. @defaultValue count 1 */
  failLogins(errorNumber: number, count?: number): void;
  /** Delay before answering every request (cut short by a cancel). */
  setLatency(ms: number): void;
  /** Destroys every open connection at once: clients see a socket error. */
  dropConnections(): void;
  /**
   * The next `count` requests (any connection, after its connect-time SET batch) are answered by
   * destroying their connection: the client sees the socket close mid-request. @defaultValue count 1
   */
  dropOnNextRequest(count?: number): void;
  /** Removes every pending fault and the latency. */
  clear(): void;
};

type StatementFault = { pattern: RegExp; errorNumber: number; remaining: number };
type TimedFault = { pattern: RegExp; errorNumber: number; untilMs: number; share: number };

/** The stand-in's side of the faults: what the connections ask before acting. */
export type FaultState = {
  api: SqlFaults;
  latencyMs(): number;
  statementFault(sql: string, context: { database: string; server: string }): SqlServerErrorInfo | undefined;
  loginFault(context: { database: string; server: string }): SqlServerErrorInfo | undefined;
  takeDropOnRequest(): boolean;
};

export function createFaultState(dropAll: () => void): FaultState {
  let statements: StatementFault[] = [];
  let timed: TimedFault | undefined;
  let timedLogins: Omit<TimedFault, 'pattern'> | undefined;
  let logins: number[] = [];
  let drops = 0;
  let latency = 0;
  const api: SqlFaults = {
    failStatements(pattern, errorNumber, count = 1) {
      statements.push({ pattern, errorNumber, remaining: count });
    },
    failStatementsUntil(pattern, errorNumber, untilMs, share = 1) {
      timed = { pattern, errorNumber, untilMs, share };
    },
    failLoginsUntil(errorNumber, untilMs, share = 1) {
      timedLogins = { errorNumber, untilMs, share };
    },
    failLogins(errorNumber, count = 1) {
      for (let i = 0; i < count; i++) logins.push(errorNumber);
    },
    setLatency(ms) {
      latency = ms;
    },
    dropConnections: dropAll,
    dropOnNextRequest(count = 1) {
      drops += count;
    },
    clear() {
      statements = [];
      timed = undefined;
      timedLogins = undefined;
      logins = [];
      drops = 0;
      latency = 0;
    },
  };
  return {
    api,
    latencyMs: () => latency,
    statementFault(sql, context) {
      if (timed && Date.now() >= timed.untilMs) timed = undefined;
      if (timed && Math.random() < timed.share) {
        timed.pattern.lastIndex = 0;
        if (timed.pattern.test(sql)) return sqlError(timed.errorNumber, context);
      }
      const fault = statements.find((f) => {
        f.pattern.lastIndex = 0;
        return f.pattern.test(sql);
      });
      if (!fault) return undefined;
      fault.remaining--;
      if (fault.remaining <= 0) statements = statements.filter((f) => f !== fault);
      return sqlError(fault.errorNumber, context);
    },
    loginFault(context) {
      if (timedLogins && Date.now() >= timedLogins.untilMs) timedLogins = undefined;
      if (timedLogins && Math.random() < timedLogins.share) return sqlError(timedLogins.errorNumber, context);
      const number = logins.shift();
      return number === undefined ? undefined : sqlError(number, context);
    },
    takeDropOnRequest() {
      if (drops <= 0) return false;
      drops--;
      return true;
    },
  };
}
