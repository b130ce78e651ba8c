// npm run doctor [-- --as worker|publisher|operator|scaler] [--can-run-worker] [--json]: tries each
// right the roles table gives that identity (or, asked, the worker's: could it run the worker?) with
// the least call the right allows, and prints ok or what is missing with the command that grants it.
// Changes nothing.
import {
  type ConfigError,
  loadIdentityConfig,
  loadKeyVaultConfig,
  loadServiceBusConfig,
  loadSqlConfig,
} from '../src/config.ts';
import { defaults } from '../src/defaults.ts';
import { entraRedisAuth } from '../src/doctor/checks.ts';
import { type DoctorQuestion, rightsToTry, runDoctor } from '../src/doctor/run-doctor.ts';
import { createCredential, describeRequestedIdentity } from '../src/identity/credential.ts';
import { formatIdentity } from '../src/identity/describe.ts';
import type { GrantScope, Principal } from '../src/identity/roles.ts';
import { defineCommand, runCommand } from './lib/cli.ts';
import { asFlag, jsonFlag, oneOf, scriptIdentities } from './lib/cli-values.ts';
import type { Service } from './lib/script-env.ts';
import { scriptSettings, scriptSqlPool, settingOrExit } from './lib/script-settings.ts';

const principals = [...scriptIdentities, 'scaler'] as const;
const args = runCommand(
  defineCommand({
    name: 'doctor',
    usage: 'npm run doctor -- [--as worker|publisher|operator|scaler] [--can-run-worker] [--json]',
    about:
      'Tries each right the roles table gives an identity with the least call it allows (peek, attach a\n' +
      'sender, read each secret, HAS_PERMS_BY_NAME, Redis AUTH + PING) and prints ok, or what is missing\n' +
      'with the command that grants it; exit 1 when one is missing. Changes nothing.',
    flags: {
      as: asFlag(principals, 'worker', 'whose rights are tried'),
      'can-run-worker': {
        type: 'boolean',
        help: "tries the worker's rights instead: could this identity run it?",
      },
      json: jsonFlag,
    },
    parse: (v) => ({
      who: oneOf('as', v.as ?? 'worker', principals) as Principal,
      question: (v['can-run-worker'] ? 'worker' : 'own') as DoctorQuestion,
      json: v.json === true,
    }),
  }),
);
const { who, question } = args;

/** A failure before any verdict: a line on stderr, or with --json the one document on stdout. */
const stop = (error: string, code: number): never => {
  if (args.json) console.log(JSON.stringify({ principal: who, question, ok: false, error }, null, 2));
  else console.error(`doctor: ${error}`);
  process.exit(code);
};
const setting = <T>(parse: () => T): T => {
  if (!args.json) return settingOrExit(parse);
  try {
    return parse();
  } catch (error: unknown) {
    if (error instanceof Error && error.name === 'ConfigError') stop((error as ConfigError).message, 78);
    throw error;
  }
};

// Only the services whose rights are tried; the queue always, since every identity has a right there.
const serviceOf: Record<GrantScope, Service | undefined> = {
  queue: 'serviceBus',
  vault: 'keyVault',
  database: 'sql',
  redis: 'redis',
  registry: undefined,
};
const rights = rightsToTry(who, question);
const needs = new Set<Service>(['serviceBus', ...rights.flatMap((g) => serviceOf[g.scope] ?? [])]);
const env = await scriptSettings(who, [...needs]);
const identity = setting(() => loadIdentityConfig(env));
const serviceBus = setting(() => loadServiceBusConfig(env));
const keyVault = setting(() => loadKeyVaultConfig(env));
const sql = needs.has('sql') ? setting(() => loadSqlConfig(env)) : undefined;
const requested = { kind: identity.credential, clientId: identity.clientId };
const credential = createCredential(requested);

try {
  const { identity: seen, verdicts } = await runDoctor({
    principal: who,
    question,
    credential,
    serviceBus,
    keyVault,
    sql: sql ? () => scriptSqlPool(env, 1).pool : undefined,
    sqlTarget: sql,
    // As the retry tier logs in: REDIS_AUTH=entra uses the object id and a Redis token.
    redis: needs.has('redis')
      ? {
          url: env.REDIS_URL ?? defaults.redisUrl,
          auth: env.REDIS_AUTH === 'entra' ? await entraRedisAuth(credential) : { kind: 'none' },
        }
      : undefined,
  });
  const failed = verdicts.filter((v) => v.outcome === 'missing' || v.outcome === 'failed');
  if (args.json) {
    console.log(
      JSON.stringify(
        { principal: who, question, identity: seen, verdicts, ok: failed.length === 0 },
        null,
        2,
      ),
    );
  } else {
    const rightsOf = question === 'worker' ? "the worker's rights" : `the ${who} rights`;
    console.log(`doctor: ${rightsOf}, tried as ${describeRequestedIdentity(requested)}`);
    console.log(`  token says: ${formatIdentity(seen)}`);
    for (const v of verdicts) {
      console.log(`  ${v.outcome.toUpperCase().padEnd(8)} ${v.right.padEnd(58)} ${v.detail}`);
      if (v.fix) console.log(`           grant: ${v.fix}`);
    }
    console.log(failed.length === 0 ? 'all rights ok' : `${failed.length} right(s) missing or failing`);
  }
  process.exitCode = failed.length === 0 ? 0 : 1;
} catch (error: unknown) {
  stop(error instanceof Error ? error.message : String(error), 1);
}
