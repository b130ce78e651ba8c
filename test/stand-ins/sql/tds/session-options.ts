import type { IsolationLevel } from '../engine-api.ts';

/** Session options the wire side keeps itself, because they change what it sends. */
export type SessionOptions = { isolation: IsolationLevel; noCount: boolean; xactAbort: boolean };

export const defaultSessionOptions = (): SessionOptions => ({
  isolation: 'read committed',
  noCount: false,
  xactAbort: false,
});

const ON_OFF = /^set\s+(xact_abort|nocount)\s+(on|off)$/i;
/** Only the values Azure SQL and tedious default to: other values would change results the engine cannot. */
const DEFAULTS =
  /^set\s+(?:(?:ansi_nulls|ansi_null_dflt_on|ansi_padding|ansi_warnings|arithabort|concat_null_yields_null|quoted_identifier)\s+on|(?:cursor_close_on_commit|numeric_roundabort|implicit_transactions)\s+off|datefirst\s+7|textsize\s+-?\d+|dateformat\s+mdy|language\s+us_english)$/i;
const ISOLATION =
  /^set\s+transaction\s+isolation\s+level\s+(read\s+uncommitted|read\s+committed|repeatable\s+read|serializable|snapshot)$/i;

/**
 * Applies a batch made only of the SET statements drivers send on connect (tedious' initial batch,
 * `SET TRANSACTION ISOLATION LEVEL`, `SET NOCOUNT`, `SET XACT_ABORT`) and returns true; any other
 * batch returns false untouched and goes to the engine. Options that would change results the
 * stand-in cannot honour (`implicit_transactions on`, `ansi_nulls off`, another language) are not
 * swallowed: the engine refuses them.
 */
export function applySetOnlyBatch(sql: string, options: SessionOptions): boolean {
  const statements = sql
    .split(/[\n;]+/)
    .map((s) => s.trim().replace(/\s+/g, ' '))
    .filter((s) => s.length > 0);
  if (statements.length === 0) return false;
  const changes: Array<(o: SessionOptions) => void> = [];
  for (const statement of statements) {
    const onOff = ON_OFF.exec(statement);
    const isolation = ISOLATION.exec(statement);
    if (onOff?.[1] && onOff[2]) {
      const option = onOff[1].toLowerCase();
      const on = onOff[2].toLowerCase() === 'on';
      if (option === 'nocount') changes.push((o) => (o.noCount = on));
      if (option === 'xact_abort') changes.push((o) => (o.xactAbort = on));
    } else if (isolation?.[1]) {
      const level = isolation[1].toLowerCase().replace(/\s+/g, ' ') as IsolationLevel;
      changes.push((o) => (o.isolation = level));
    } else if (!DEFAULTS.test(statement)) {
      return false;
    }
  }
  for (const change of changes) change(options);
  return true;
}
