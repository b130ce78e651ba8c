import { SqlServerError } from '../engine-api.ts';

export const sqlError = (number: number, severity: number, state: number, message: string): SqlServerError =>
  new SqlServerError({ number, severity, state, message });

/** Anything that escapes the engine reaches the client as a SQL Server error, with the original kept as `cause`. */
export const normalise = (e: unknown): SqlServerError => {
  if (e instanceof SqlServerError) return e;
  const error = sqlError(
    50000,
    16,
    1,
    `Stand-in engine failure: ${e instanceof Error ? e.message : String(e)}`,
  );
  error.cause = e;
  return error;
};
