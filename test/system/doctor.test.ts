import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Verdict } from '../../src/doctor/run-doctor.ts';
import { runScript } from '../helpers/run-script.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';

// `npm run doctor` as a process, as each identity of the local stack: every right is tried with the
// least call it allows, and what the roles give is exactly what it reports.
let system: SystemStack;
const doctor = new URL('../../scripts/doctor.ts', import.meta.url).pathname;
type Who = 'worker' | 'publisher' | 'operator' | 'scaler';

beforeAll(async () => {
  system = await startSystemStack({ queue: 'orders-doctor' });
}, 60_000);
afterAll(async () => {
  await system?.close();
});

type Report = { ok: boolean; verdicts: Verdict[] };
const run = (who: Who, extra: string[] = []) =>
  runScript([doctor, '--as', who, ...extra], system.stack.env(who));
const verdicts = async (who: Who, extra: string[] = []) => {
  const { code, stdout } = await run(who, ['--json', ...extra]);
  const report = JSON.parse(stdout) as Report;
  return { code, byRight: Object.fromEntries(report.verdicts.map((v) => [v.grant.role, v.outcome])), report };
};

describe('npm run doctor on the local stack', () => {
  it('finds every right of the worker, and exits 0', async () => {
    const { code, byRight } = await verdicts('worker');
    expect(byRight).toEqual({
      'Azure Service Bus Data Receiver': 'ok',
      'Key Vault Secrets User': 'ok',
      db_datareader: 'ok',
      db_datawriter: 'ok',
      default: 'ok',
      AcrPull: 'skipped',
    });
    expect(code).toBe(0);
  });

  it('finds the publisher healthy with exactly its own right, trying nothing else', async () => {
    const { code, byRight } = await verdicts('publisher');
    expect(byRight).toEqual({ 'Azure Service Bus Data Sender': 'ok' });
    expect(code).toBe(0);
    const { out } = await run('publisher');
    expect(out).toMatch(/OK\s+Azure Service Bus Data Sender on queue orders-doctor/);
    expect(out).toContain('all rights ok');
  });

  it('with --can-run-worker, tells the publisher it cannot run the worker: no Key Vault role, no database user', async () => {
    const { code, byRight, report } = await verdicts('publisher', ['--can-run-worker']);
    expect(byRight).toEqual({
      'Azure Service Bus Data Receiver': 'missing',
      'Key Vault Secrets User': 'missing',
      db_datareader: 'missing',
      db_datawriter: 'missing',
      default: 'ok',
      AcrPull: 'skipped',
    });
    expect(code).toBe(1);
    const fixes = report.verdicts.map((v) => v.fix ?? '').join('\n');
    const publisher = system.stack.file.identities.publisher;
    expect(fixes).toContain(
      `az role assignment create --assignee-object-id ${publisher.objectId} --assignee-principal-type ServicePrincipal --role "Key Vault Secrets User"`,
    );
    expect(fixes).toContain(
      'CREATE USER [keyless-publisher] FROM EXTERNAL PROVIDER; ALTER ROLE db_datareader',
    );
  });

  it("finds the operator's migration and reprocessing rights, and the scaler's right is left to Azure", async () => {
    const operator = await verdicts('operator');
    expect(operator.byRight).toMatchObject({
      'Azure Service Bus Data Receiver': 'ok',
      'Azure Service Bus Data Sender': 'ok',
      db_ddladmin: 'ok',
    });
    expect(operator.code).toBe(0);
    const scaler = await verdicts('scaler');
    expect(scaler.byRight).toEqual({ 'Azure Service Bus Data Owner': 'skipped' });
  });

  it('turns a role removed in the stand-ins into its row with the command that grants it', async () => {
    const { identity, sqlEngine, file } = system.stack;
    const worker = file.identities.worker;
    const vaultId = identity.resourceId('Microsoft.KeyVault/vaults', 'keyless-local');
    identity.removeRole(worker.objectId, 'Key Vault Secrets User', vaultId);
    const admin = await sqlEngine.openSession(file.sql.database, 'dbo');
    await admin.execute(`ALTER ROLE db_datawriter DROP MEMBER [${worker.name}]`);
    try {
      const { code, out } = await run('worker');
      expect(code).toBe(1);
      expect(out).toMatch(/MISSING\s+Key Vault Secrets User/);
      expect(out).toContain(
        `grant: az role assignment create --assignee-object-id ${worker.objectId} --assignee-principal-type ServicePrincipal --role "Key Vault Secrets User"`,
      );
      expect(out).toMatch(/MISSING\s+db_datawriter/);
      expect(out).toContain(`grant: ALTER ROLE db_datawriter ADD MEMBER [${worker.name}];`);
      expect(out).toMatch(/OK\s+db_datareader/);
    } finally {
      await admin.execute(`ALTER ROLE db_datawriter ADD MEMBER [${worker.name}]`);
      await admin.close();
      identity.assignRole(worker.objectId, 'Key Vault Secrets User', vaultId);
    }
  }, 40_000);
});
