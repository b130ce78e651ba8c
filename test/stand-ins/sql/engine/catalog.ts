import type { SqlType } from './types.ts';

/**
 * What the engine remembers about objects and principals, in SQL Server's spelling: PostgreSQL
 * folds every name to lower case, but SQL Server's messages and result sets use names as declared.
 * Existence itself is PostgreSQL's business; this is only names, types and principals.
 */
export type ColumnInfo = { name: string; type: SqlType };
export type TableInfo = { schema: string; name: string; columns: Map<string, ColumnInfo> };
export type ConstraintKind = 'PRIMARY KEY' | 'UNIQUE KEY' | 'INDEX' | 'CHECK' | 'FOREIGN KEY';
export type ConstraintInfo = { name: string; kind: ConstraintKind; table: string; column?: string };

export const FIXED_ROLES = ['db_owner', 'db_datareader', 'db_datawriter', 'db_ddladmin'] as const;
export type FixedRole = (typeof FIXED_ROLES)[number];

export type Principal = { name: string; roles: Set<FixedRole>; external: boolean };

export type Catalog = {
  tables: Map<string, TableInfo>;
  /** PostgreSQL constraint or index name → SQL Server's. */
  constraints: Map<string, ConstraintInfo>;
  /** Lower-case name → a declared spelling, for result-set column names. */
  names: Map<string, string>;
  principals: Map<string, Principal>;
};

export const createCatalog = (): Catalog => ({
  tables: new Map(),
  constraints: new Map(),
  names: new Map(),
  principals: new Map(),
});

/** `dbo.orders`: the key of a table in the catalog. */
export const tableKey = (schema: string, name: string): string =>
  `${schema.toLowerCase()}.${name.toLowerCase()}`;

/** dbo and db_owner members may do anything in the database. */
export const isOwner = (p: Principal | undefined): boolean =>
  p !== undefined && (p.name.toLowerCase() === 'dbo' || p.roles.has('db_owner'));
