import { type Catalog, isOwner, type Principal, tableKey } from './catalog.ts';
import { sqlError } from './session-errors.ts';
import type { QueryPlan } from './statements.ts';

const ROLE_FOR = {
  SELECT: 'db_datareader',
  INSERT: 'db_datawriter',
  UPDATE: 'db_datawriter',
  DELETE: 'db_datawriter',
} as const;

/** Refuses `plan` with the error SQL Server gives when `p` lacks the fixed role it needs. */
export const checkAccess = (
  catalog: Catalog,
  database: string,
  p: Principal | undefined,
  plan: QueryPlan,
): void => {
  if (isOwner(p)) return;
  if (plan.ddl) {
    if (!p?.roles.has('db_ddladmin')) throw plan.ddl.denied;
    return;
  }
  for (const a of plan.access) {
    if (p?.roles.has(ROLE_FOR[a.permission])) continue;
    const info = catalog.tables.get(tableKey(a.schema, a.table));
    throw sqlError(
      229,
      14,
      5,
      `The ${a.permission} permission was denied on the object '${info?.name ?? a.table}', database '${database}', schema '${info?.schema ?? a.schema}'.`,
    );
  }
};
