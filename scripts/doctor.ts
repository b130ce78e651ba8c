// npm run doctor: which identity this process runs as, and whether it gets a token for each service.
// Prints what the tokens say (ids, audience, expiry), never a token.
import { createCredential, describeRequestedIdentity, scopes } from '../src/identity/credential.ts';
import { describeIdentity } from '../src/identity/describe.ts';
import { findLocalStack, hasAzureSettings, useLocalStack } from './lib/local-stack.ts';

const who = (process.argv[2] ?? 'worker') as 'worker' | 'publisher' | 'operator';
if (!hasAzureSettings(process.env)) {
  const stack = findLocalStack();
  if (!stack) {
    console.error(
      'No Azure settings in the environment and no local stack running: start one with `npm run stack`.',
    );
    process.exit(1);
  }
  useLocalStack(stack, who);
  console.log(`local stack (pid ${stack.pid}), as the ${who} identity`);
}

const requested = {
  kind: process.env.AZURE_CREDENTIAL === 'developer' ? ('developer' as const) : ('managed-identity' as const),
  clientId: process.env.AZURE_CLIENT_ID,
};
console.log(`asking for tokens as ${describeRequestedIdentity(requested)}`);
const credential = createCredential(requested);
let failed = false;
for (const [service, scope] of Object.entries(scopes)) {
  try {
    const token = await credential.getToken(scope);
    const d = describeIdentity(token?.token ?? '');
    console.log(
      `  ${service.padEnd(10)} ok   ${d.kind}, client id ${d.clientId}, object id ${d.objectId}, tenant ${d.tenantId}, audience ${d.audience}, expires ${d.expiresOn?.toISOString()}`,
    );
    if (d.resourceId) console.log(`  ${''.padEnd(10)}      resource ${d.resourceId}`);
  } catch (error: unknown) {
    failed = true;
    console.log(
      `  ${service.padEnd(10)} FAIL ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
    );
  }
}
process.exit(failed ? 1 : 0);
