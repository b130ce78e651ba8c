import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { StackFile } from '../../test/stand-ins/stack.ts';
import { trustCertificateAuthority } from '../../test/stand-ins/tls-trust.ts';

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

/** Whether the environment names an Azure (or other) service, so that no local stack is wanted. */
export const hasAzureSettings = (env: NodeJS.ProcessEnv): boolean =>
  Boolean(
    env.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE ||
      env.SQL_SERVER ||
      env.IDENTITY_ENDPOINT ||
      env.AZURE_CREDENTIAL,
  );

/**
 * Points this process at the stack as `who`: the managed identity variables (read by
 * @azure/identity at its first token) and trust in the stack's CA for TLS made from now on.
 */
export function useLocalStack(stack: StackFile, who: keyof StackFile['identities']): void {
  process.env.IDENTITY_ENDPOINT = stack.identityEndpoint;
  process.env.IDENTITY_HEADER = stack.identityHeader;
  process.env.AZURE_CLIENT_ID = stack.identities[who].clientId;
  trustCertificateAuthority(readFileSync(stack.caCertPath, 'utf8'));
}
