import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findLocalStack, stackDir } from '../../scripts/lib/local-stack.ts';
import { runScript } from '../helpers/run-script.ts';
import { type LocalStack, startLocalStack } from '../stand-ins/stack.ts';

// The scripts as a developer runs them beside `npm start`: nothing configured, so each finds the
// running local stack through .local/stack.json. A developer's own running stack is left alone.
const running = findLocalStack();
let stack: LocalStack | undefined;

beforeAll(async () => {
  if (!running) stack = await startLocalStack({ dir: stackDir, queue: 'orders', redis: false });
}, 60_000);
afterAll(async () => {
  await stack?.close();
});

const script = runScript;

describe.skipIf(running !== undefined)(
  'scripts on a running local stack (skipped while a developer’s own stack runs in .local/)',
  () => {
    it('migrates as the operator, then the doctor passes the worker and the publisher, which cannot run the worker', async () => {
      const migrate = await script(['scripts/migrate.ts']);
      expect(migrate.code, migrate.out).toBe(0);
      expect(migrate.out).toContain('from the local stack');

      const worker = await script(['scripts/doctor.ts', '--as', 'worker']);
      expect(worker.code, worker.out).toBe(0);
      const own = await script(['scripts/doctor.ts', '--as', 'publisher']);
      expect(own.code, own.out).toBe(0);
      const publisher = await script(['scripts/doctor.ts', '--as', 'publisher', '--can-run-worker']);
      expect(publisher.code).toBe(1);
      expect(publisher.out).toMatch(/MISSING\s+Key Vault Secrets User/);
      expect(publisher.out).toContain('CREATE USER [keyless-publisher] FROM EXTERNAL PROVIDER;');
    }, 60_000);

    it('publishes to the stack’s Service Bus while SQL is configured as a local SQL Server', async () => {
      const { code, out } = await script(['scripts/publish.ts', '--count', '3'], {
        SQL_SERVER: 'sqlserver.local',
        SQL_DATABASE: 'app',
        SQL_AUTH: 'password',
        SQL_USER: 'sa',
        SQL_PASSWORD: 'not-used-by-publish',
      });
      expect(out).not.toContain('SERVICEBUS_FULLY_QUALIFIED_NAMESPACE');
      expect(code, out).toBe(0);
      expect(out).toContain('sent 3 events');
      expect(out).toContain('serviceBus from the local stack');
    }, 30_000);
  },
);
