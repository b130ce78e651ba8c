import type { SqlServerError } from '../engine-api.ts';
import { type Catalog, FIXED_ROLES, type FixedRole, isOwner } from './catalog.ts';
import { sqlError } from './session-errors.ts';
import type { Plan } from './statements.ts';

/** The statements that change who may do what: CREATE USER, DROP USER, ALTER ROLE. */
export type PrincipalPlan = Extract<Plan, { kind: 'createUser' | 'dropUser' | 'alterRole' }>;

/** The part of the engine core principal statements read and change; the session passes its core. */
export type PrincipalScope = {
  catalog: Catalog;
  resolveExternalPrincipal(name: string): boolean;
};

/** Runs `plan` for `user`, who must own the database. */
export const runPrincipalPlan = (core: PrincipalScope, user: string, plan: PrincipalPlan): void => {
  const { catalog } = core;
  const requireOwner = (message: () => SqlServerError): void => {
    if (!isOwner(catalog.principals.get(user.toLowerCase()))) throw message();
  };
  switch (plan.kind) {
    case 'createUser': {
      requireOwner(() => sqlError(15247, 16, 1, 'User does not have permission to perform this action.'));
      const key = plan.name.toLowerCase();
      if (catalog.principals.has(key))
        throw sqlError(
          15023,
          16,
          1,
          `User, group, or role '${plan.name}' already exists in the current database.`,
        );
      if (!core.resolveExternalPrincipal(plan.name)) {
        throw sqlError(
          33130,
          16,
          1,
          `Principal '${plan.name}' could not be found or this principal type is not supported.`,
        );
      }
      catalog.principals.set(key, { name: plan.name, roles: new Set(), external: true });
      return;
    }
    case 'dropUser': {
      requireOwner(() =>
        sqlError(
          15151,
          16,
          1,
          `Cannot drop the user '${plan.name}', because it does not exist or you do not have permission.`,
        ),
      );
      if (!catalog.principals.delete(plan.name.toLowerCase()) && !plan.ifExists) {
        throw sqlError(
          15151,
          16,
          1,
          `Cannot drop the user '${plan.name}', because it does not exist or you do not have permission.`,
        );
      }
      return;
    }
    case 'alterRole': {
      const role = plan.role.toLowerCase() as FixedRole;
      const noRole = () =>
        sqlError(
          15151,
          16,
          1,
          `Cannot alter the role '${plan.role}', because it does not exist or you do not have permission.`,
        );
      requireOwner(noRole);
      if (!FIXED_ROLES.includes(role)) throw noRole();
      const member = catalog.principals.get(plan.member.toLowerCase());
      if (!member) {
        throw sqlError(
          15151,
          16,
          1,
          `Cannot ${plan.add ? 'add' : 'drop'} the principal '${plan.member}', because it does not exist or you do not have permission.`,
        );
      }
      if (plan.add) member.roles.add(role);
      else member.roles.delete(role);
      return;
    }
  }
};
