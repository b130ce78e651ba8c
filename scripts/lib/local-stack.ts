// Local use only: finds the stack that `npm start` or `npm run stack` runs. It loads the stand-ins'
// modules under test/, so the image's build leaves it out and scripts load it only on demand
// (script-env.ts), when some service they need is not configured.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { StackFile } from '../../test/stand-ins/stack.ts';
import { trustCertificateAuthority } from '../../test/stand-ins/tls-trust.ts';
import type { LocalStackModule } from './script-env.ts';

/** Where `npm run stack` and `npm start` write the running stack's description. */
export const stackDir = resolve(import.meta.dirname, '../../.local');
export const stackFilePath = resolve(stackDir, 'stack.json');

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The running local stack, or undefined when none runs (a stale file from a killed stack is ignored). */
export function findLocalStack(): StackFile | undefined {
  if (!existsSync(stackFilePath)) return undefined;
  const file = JSON.parse(readFileSync(stackFilePath, 'utf8')) as StackFile;
  return alive(file.pid) ? file : undefined;
}

/**
 * The stack's settings as `who`, after trusting its CA for TLS made from now on (the Service Bus
 * SDK takes no CA option, and NODE_EXTRA_CA_CERTS is read only at process start).
 */
export const localStackEnv: LocalStackModule['localStackEnv'] = (who) => {
  const stack = findLocalStack();
  if (!stack) return undefined;
  trustCertificateAuthority(readFileSync(stack.caCertPath, 'utf8'));
  return {
    KEYLESS_STACK_PID: String(stack.pid),
    IDENTITY_ENDPOINT: stack.identityEndpoint,
    IDENTITY_HEADER: stack.identityHeader,
    AZURE_CLIENT_ID: stack.identities[who].clientId,
    NODE_EXTRA_CA_CERTS: stack.caCertPath,
    KEY_VAULT_URL: stack.keyVault.url,
    KEY_VAULT_SECRETS: stack.keyVault.secrets.join(','),
    SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: stack.serviceBus.fullyQualifiedNamespace,
    SERVICEBUS_ENDPOINT: stack.serviceBus.endpoint,
    SERVICEBUS_QUEUE: stack.serviceBus.queue,
    SQL_SERVER: stack.sql.server,
    SQL_PORT: String(stack.sql.port),
    SQL_DATABASE: stack.sql.database,
    ...(stack.redisUrl ? { REDIS_URL: stack.redisUrl } : {}),
  };
};
