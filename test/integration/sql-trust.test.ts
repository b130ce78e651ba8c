import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SqlContainer, startSqlContainer } from '../helpers/sql-container.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';
import { startWorkerProcess } from '../helpers/worker-process.ts';
import { caBundleFor } from '../stand-ins/tls-trust.ts';

// A SQL Server as a container runs it: SQL authentication and a certificate signed by nobody the
// stack trusts. The rest of the stack (identity, Service Bus) stays on the stand-ins and their CA.
let system: SystemStack;
let container: SqlContainer;
let dir: string;

beforeAll(async () => {
  system = await startSystemStack({ queue: 'orders-trust', migrate: false });
  container = await startSqlContainer(system.stack.identity);
  dir = await mkdtemp(join(tmpdir(), 'keyless-trust-'));
}, 60_000);

afterAll(async () => {
  await container?.close();
  await system?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const workerEnv = (extra: Record<string, string>) => ({
  ...system.stack.env('worker'),
  ...container.settings,
  KEY_VAULT_SECRETS: '',
  ...extra,
});

const runsThenStops = async (env: Record<string, string>) => {
  const worker = await startWorkerProcess(env);
  worker.child.kill('SIGTERM');
  return worker.exited;
};

describe('a local SQL Server with its own certificate', () => {
  it('is refused over TLS while its certificate is trusted by nobody', async () => {
    await expect(startWorkerProcess(workerEnv({}))).rejects.toThrow(/certificate/i);
  });

  it('is reached, still encrypted, with SQL_TRUST_SERVER_CERTIFICATE=true', async () => {
    expect(await runsThenStops(workerEnv({ SQL_TRUST_SERVER_CERTIFICATE: 'true' }))).toBe(0);
  });

  it("is reached when the user's own CA is trusted beside the stack's, as npm start bundles them", async () => {
    const userCaPath = join(dir, 'container-ca.pem');
    await writeFile(userCaPath, container.ca.certPem);
    const bundle = caBundleFor({ stackCaPath: system.stack.file.caCertPath, userCaPath, dir });
    expect(await runsThenStops(workerEnv({ NODE_EXTRA_CA_CERTS: bundle }))).toBe(0);
  });
});
