import type { Principal as StackRole } from '../../src/identity/roles.ts';

/** The services a script can talk to, each named by the variable that says it is configured. */
export const serviceVariables = {
  serviceBus: 'SERVICEBUS_FULLY_QUALIFIED_NAMESPACE',
  sql: 'SQL_SERVER',
  keyVault: 'KEY_VAULT_URL',
  redis: 'REDIS_URL',
} as const;
export type Service = keyof typeof serviceVariables;

type Env = Readonly<Record<string, string | undefined>>;

/** What a running local stack offers a script: the environment that makes it act as `who`. */
export type LocalStackModule = {
  /** The stack's environment for `who` (after trusting its CA), or undefined when no stack runs. */
  localStackEnv(who: StackRole): Record<string, string> | undefined;
};

export type ScriptEnv = {
  env: Record<string, string | undefined>;
  /** Services taken from the local stack, and its pid; undefined when none was used. */
  fromStack: { services: Service[]; pid: string } | undefined;
};

/**
 * The environment a script runs with, decided per service as `npm start` decides: a service whose
 * variable is set is used as configured; each other one comes from a running local stack, as
 * `who`. The local stack is looked for only when some needed service is not configured, so a
 * script with full Azure settings (in the image) never loads it.
 */
export async function resolveScriptEnv(options: {
  env: Env;
  who: StackRole;
  needs: readonly Service[];
  /** @defaultValue the local-stack module beside this one, when it is there (not in the image) */
  loadLocalStack?: () => Promise<LocalStackModule | undefined>;
}): Promise<ScriptEnv> {
  const { env, who, needs } = options;
  const missing = needs.filter((s) => !env[serviceVariables[s]]);
  if (missing.length === 0) return { env: { ...env }, fromStack: undefined };
  const local = await (options.loadLocalStack ?? loadLocalStackModule)();
  const stackEnv = local?.localStackEnv(who);
  if (!stackEnv) return { env: { ...env }, fromStack: undefined };
  // Configured services keep their own settings; the stack fills in the rest, and its identity
  // endpoint unless one is configured.
  const taken = new Set(missing.map((s) => prefixOf(s)));
  const merged: Record<string, string | undefined> = { ...env };
  for (const [name, value] of Object.entries(stackEnv)) {
    const service = [...taken].some((p) => name.startsWith(p));
    const identity = /^(IDENTITY_|AZURE_CLIENT_ID$|NODE_EXTRA_CA_CERTS$)/.test(name);
    if ((service || identity) && !env[name]) merged[name] = value;
  }
  return { env: merged, fromStack: { services: missing, pid: stackEnv.KEYLESS_STACK_PID ?? '?' } };
}

const prefixOf = (service: Service): string =>
  ({ serviceBus: 'SERVICEBUS_', sql: 'SQL_', keyVault: 'KEY_VAULT_', redis: 'REDIS_' })[service];

// A specifier that tsc does not follow: the image's build neither compiles the local-stack module
// (which loads the stand-ins under test/) nor ships it, and a script there never reaches for it.
const localStackSpecifier = `./local-stack${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`;

async function loadLocalStackModule(): Promise<LocalStackModule | undefined> {
  try {
    return (await import(localStackSpecifier)) as LocalStackModule;
  } catch (error: unknown) {
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}
