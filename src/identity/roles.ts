/**
 * Who holds which right where: the one table that provisioning (scripts/lib/provision-steps.sh, checked
 * against it by a test), the doctor (what it tries, and the fix it prints) and the README follow.
 */

/** The identities of a deployment. The scaler is KEDA's alone: the app never runs as it. */
export type Principal = 'worker' | 'publisher' | 'operator' | 'scaler';

/**
 * Where a right is granted. `queue`: the Service Bus queue (or topic subscription) the worker
 * consumes; `vault`: the Key Vault; `database`: the Azure SQL database; `redis`: the Redis database;
 * `registry`: the container registry the platform pulls the image from, as that identity.
 */
export type GrantScope = 'queue' | 'vault' | 'database' | 'redis' | 'registry';

/** `rbac`: an Azure role assignment; `sql`: a database role of a contained user; `redis`: a data access policy. */
export type GrantKind = 'rbac' | 'sql' | 'redis';

export type Grant = Readonly<{
  principal: Principal;
  kind: GrantKind;
  role: string;
  scope: GrantScope;
  why: string;
}>;

export const grants: readonly Grant[] = [
  {
    principal: 'worker',
    kind: 'rbac',
    role: 'Azure Service Bus Data Receiver',
    scope: 'queue',
    why: 'receive, complete, abandon, defer, receive deferred by sequence number, dead-letter, peek: all receiver operations, so the retry tier needs no Data Sender',
  },
  {
    principal: 'worker',
    kind: 'rbac',
    role: 'Key Vault Secrets User',
    scope: 'vault',
    why: 'read the configured secrets',
  },
  { principal: 'worker', kind: 'sql', role: 'db_datareader', scope: 'database', why: 'inbox dedupe reads' },
  {
    principal: 'worker',
    kind: 'sql',
    role: 'db_datawriter',
    scope: 'database',
    why: 'inbox and domain writes',
  },
  {
    principal: 'worker',
    kind: 'redis',
    role: 'default',
    scope: 'redis',
    why: 'the BullMQ retry queue (Azure Managed Redis has one built-in access policy, default)',
  },
  {
    principal: 'worker',
    kind: 'rbac',
    role: 'AcrPull',
    scope: 'registry',
    why: "the platform pulls the app's image as the worker (no registry password)",
  },
  {
    principal: 'publisher',
    kind: 'rbac',
    role: 'Azure Service Bus Data Sender',
    scope: 'queue',
    why: 'send events',
  },
  {
    principal: 'operator',
    kind: 'rbac',
    role: 'Azure Service Bus Data Receiver',
    scope: 'queue',
    why: 'reprocess: receive dead letters',
  },
  {
    principal: 'operator',
    kind: 'rbac',
    role: 'Azure Service Bus Data Sender',
    scope: 'queue',
    why: 'reprocess: send them again',
  },
  {
    principal: 'operator',
    kind: 'sql',
    role: 'db_datareader',
    scope: 'database',
    why: 'migrate reads its table',
  },
  {
    principal: 'operator',
    kind: 'sql',
    role: 'db_datawriter',
    scope: 'database',
    why: 'migrate records versions',
  },
  {
    principal: 'operator',
    kind: 'sql',
    role: 'db_ddladmin',
    scope: 'database',
    why: 'migrate creates tables',
  },
  {
    principal: 'operator',
    kind: 'redis',
    role: 'default',
    scope: 'redis',
    why: 'reprocess retries: list, run now or give up the retry queue’s jobs',
  },
  {
    principal: 'operator',
    kind: 'rbac',
    role: 'AcrPull',
    scope: 'registry',
    why: "the platform pulls the migration job's image as the operator",
  },
  {
    principal: 'scaler',
    kind: 'rbac',
    role: 'Azure Service Bus Data Owner',
    scope: 'queue',
    why: "KEDA reads the active message count from the queue's runtime properties, a management read that needs the Manage right; Data Owner is the only built-in role that carries it",
  },
];

export const grantsOf = (principal: Principal): Grant[] => grants.filter((g) => g.principal === principal);

/** The names the fix commands need, as provisioning names the resources. */
export type DeploymentNames = {
  resourceGroup: string;
  serviceBusNamespace: string;
  /** Queue, or `topic/subscriptions/subscription`. */
  entityPath: string;
  keyVault: string;
  sqlServer: string;
  database: string;
  redisCluster: string;
  registry: string;
};

export const placeholderNames: DeploymentNames = {
  resourceGroup: '<resource group>',
  serviceBusNamespace: '<namespace>',
  entityPath: '<queue>',
  keyVault: '<vault>',
  sqlServer: '<sql server>',
  database: '<database>',
  redisCluster: '<redis>',
  registry: '<registry>',
};

const scopeLookup = (scope: GrantScope, n: DeploymentNames): string => {
  if (scope === 'vault')
    return `$(az keyvault show --resource-group ${n.resourceGroup} --name ${n.keyVault} --query id -o tsv)`;
  const [topic, , subscription] = n.entityPath.split('/');
  return subscription
    ? `$(az servicebus topic subscription show --resource-group ${n.resourceGroup} --namespace-name ${n.serviceBusNamespace} --topic-name ${topic} --name ${subscription} --query id -o tsv)`
    : `$(az servicebus queue show --resource-group ${n.resourceGroup} --namespace-name ${n.serviceBusNamespace} --name ${n.entityPath} --query id -o tsv)`;
};

/** The command (or T-SQL, run as the database's Entra admin) that grants `grant` to an identity. */
export function grantCommand(
  grant: Grant,
  identity: { objectId: string; name: string },
  names: DeploymentNames = placeholderNames,
): string {
  switch (grant.kind) {
    case 'rbac':
      return `az role assignment create --assignee-object-id ${identity.objectId} --assignee-principal-type ServicePrincipal --role "${grant.role}" --scope "${scopeLookup(grant.scope, names)}"`;
    case 'sql':
      return `ALTER ROLE ${grant.role} ADD MEMBER [${identity.name}];  -- in database '${names.database}' on ${names.sqlServer}, as its Microsoft Entra admin`;
    case 'redis':
      return `az redisenterprise database access-policy-assignment create --resource-group ${names.resourceGroup} --cluster-name ${names.redisCluster} --database-name default --access-policy-assignment-name ${identity.name} --access-policy-name ${grant.role} --object-id ${identity.objectId}`;
  }
}
