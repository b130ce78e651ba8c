// npm run doctor [-- worker|publisher|operator|scaler] [--json]: tries each right the roles table
// gives that identity (and the worker's: can it run the worker?) with the least call the right
// allows, and prints ok or what is missing with the command that grants it. Changes nothing.
import { parseArgs } from 'node:util';
import {
  loadIdentityConfig,
  loadKeyVaultConfig,
  loadServiceBusConfig,
  loadSqlConfig,
} from '../src/config.ts';
import { defaults } from '../src/defaults.ts';
import { entraRedisAuth } from '../src/doctor/checks.ts';
import { runDoctor } from '../src/doctor/run-doctor.ts';
import { createCredential, describeRequestedIdentity } from '../src/identity/credential.ts';
import { formatIdentity } from '../src/identity/describe.ts';
import type { Principal } from '../src/identity/roles.ts';
import { scriptSettings, scriptSqlPool, settingOrExit } from './lib/script-settings.ts';

const principals = ['worker', 'publisher', 'operator', 'scaler'] as const;
const { values, positionals } = parseArgs({ options: { json: { type: 'boolean' } }, allowPositionals: true });
const who = (positionals[0] ?? 'worker') as Principal;
if (!principals.includes(who)) {
  console.error(`usage: npm run doctor -- [${principals.join('|')}] [--json]`);
  process.exit(2);
}

const env = await scriptSettings(who, ['serviceBus', 'sql', 'keyVault', 'redis']);
const identity = settingOrExit(() => loadIdentityConfig(env));
const serviceBus = settingOrExit(() => loadServiceBusConfig(env));
const keyVault = settingOrExit(() => loadKeyVaultConfig(env));
const sql = who === 'scaler' ? undefined : settingOrExit(() => loadSqlConfig(env));
const requested = { kind: identity.credential, clientId: identity.clientId };
const credential = createCredential(requested);

try {
  const { identity: seen, verdicts } = await runDoctor({
    principal: who,
    credential,
    serviceBus,
    keyVault,
    sql: sql ? () => scriptSqlPool(env, 1).pool : undefined,
    sqlTarget: sql,
    // As the retry tier logs in: REDIS_AUTH=entra uses the object id and a Redis token.
    redis: {
      url: env.REDIS_URL ?? defaults.redisUrl,
      auth: env.REDIS_AUTH === 'entra' ? await entraRedisAuth(credential) : { kind: 'none' },
    },
  });
  const failed = verdicts.filter((v) => v.outcome === 'missing' || v.outcome === 'failed');
  if (values.json) {
    console.log(
      JSON.stringify({ principal: who, identity: seen, verdicts, ok: failed.length === 0 }, null, 2),
    );
  } else {
    console.log(`doctor: the ${who} rights, tried as ${describeRequestedIdentity(requested)}`);
    console.log(`  token says: ${formatIdentity(seen)}`);
    for (const v of verdicts) {
      console.log(`  ${v.outcome.toUpperCase().padEnd(8)} ${v.right.padEnd(58)} ${v.detail}`);
      if (v.fix) console.log(`           grant: ${v.fix}`);
    }
    console.log(failed.length === 0 ? 'all rights ok' : `${failed.length} right(s) missing or failing`);
  }
  process.exitCode = failed.length === 0 ? 0 : 1;
} catch (error: unknown) {
  console.error(`doctor: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
