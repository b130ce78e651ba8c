import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFaultArgs } from '../../scripts/lib/fault-command.ts';
import { createCredential } from '../../src/identity/credential.ts';
import { createSqlPool } from '../../src/sql/pool.ts';
import { type SystemStack, startSystemStack } from '../helpers/system-stack.ts';
import { sendFault } from './fault-control.ts';

let system: SystemStack;
beforeAll(async () => {
  system = await startSystemStack({ migrate: false });
});
afterAll(async () => {
  await system?.close();
});

const fault = (...argv: string[]) => sendFault(system.stack.file.control, parseFaultArgs(argv));
const untilPast = async (iso: string | undefined) => {
  await sleep(Math.max(0, Date.parse(iso ?? '') - Date.now()) + 50);
};
const errorNumber = (p: Promise<unknown>) =>
  p.then(
    () => 0,
    (e: { number?: number }) => e.number ?? -1,
  );

describe('npm run fault against a running local stack', () => {
  it('makes every SQL login and statement fail with 40613 for the seconds given, then lets them through', async () => {
    expect(await errorNumber(system.sql.query('SELECT 1 AS one'))).toBe(0);
    const answer = await fault('sql', '--seconds', '1');
    expect(answer.set).toBe('sql: every login and statement fails with error 40613 for 1 s');
    expect(await errorNumber(system.sql.query('SELECT 1 AS one'))).toBe(40613);
    // A connection opened now fails at its login, as in an Azure SQL failover.
    const { server, port, database } = system.stack.file.sql;
    const fresh = createSqlPool({
      server,
      port,
      database,
      authentication: {
        type: 'token-credential',
        options: {
          credential: createCredential({ clientId: system.stack.file.identities.operator.clientId }),
        },
      },
      max: 1,
    });
    const loginError = await fresh.query('SELECT 1 AS one').then(
      () => undefined,
      (e: { code?: string; message?: string }) => e,
    );
    await fresh.close();
    expect(loginError?.message).toContain('is not currently available');
    await untilPast(answer.endsAt);
    expect(await errorNumber(system.sql.query('SELECT 1 AS one'))).toBe(0);
  });

  it('fails only a share of the statements with --share', async () => {
    const answer = await fault('sql', '--share', '0.5', '--seconds', '30');
    expect(answer.set).toBe('sql: 50% of logins and statements fail with error 40613 for 30 s');
    const numbers: number[] = [];
    for (let i = 0; i < 40; i++) numbers.push(await errorNumber(system.sql.query('SELECT 1 AS one')));
    expect(numbers.filter((n) => n === 40613).length).toBeGreaterThan(0);
    expect(numbers.filter((n) => n === 0).length).toBeGreaterThan(0);
    expect(numbers.every((n) => n === 0 || n === 40613)).toBe(true);
    expect((await fault('sql', '--clear')).set).toBe('sql: faults cleared');
    expect(await errorNumber(system.sql.query('SELECT 1 AS one'))).toBe(0);
    // A deadlock is a statement's error: logins stay open.
    expect((await fault('sql', '--seconds', '30', '--error', '1205')).set).toBe(
      'sql: every statement fails with error 1205 for 30 s',
    );
    expect(await errorNumber(system.sql.query('SELECT 1 AS one'))).toBe(1205);
    await fault('sql', '--clear');
  });

  it('drops every Service Bus connection at once', async () => {
    // A raw TLS client sees the drop as the broker closing its socket.
    const socket = connect({
      host: '127.0.0.1',
      port: system.stack.serviceBus.port,
      servername: 'localhost',
    });
    await once(socket, 'secureConnect');
    const closed = once(socket, 'close');
    while (system.stack.serviceBus.openConnections() < 1) await sleep(10);
    const open = system.stack.serviceBus.openConnections();
    expect((await fault('servicebus', '--drop')).set).toBe(
      `servicebus: dropped ${open} connection${open === 1 ? '' : 's'}`,
    );
    await closed;
    expect(socket.destroyed).toBe(true);
  });

  it('makes the identity endpoint answer 500 for the seconds given', async () => {
    const { identityEndpoint, identityHeader, identities } = system.stack.file;
    const ask = () =>
      fetch(
        `${identityEndpoint}?api-version=2019-08-01&resource=https://database.windows.net&client_id=${identities.worker.clientId}`,
        { headers: { 'x-identity-header': identityHeader } },
      ).then((r) => r.status);
    expect(await ask()).toBe(200);
    const answer = await fault('identity', '--seconds', '1');
    expect(answer.set).toBe('identity: the endpoint answers 500 for 1 s');
    expect(await ask()).toBe(500);
    await untilPast(answer.endsAt);
    expect(await ask()).toBe(200);
  });

  it('refuses a caller without the stack token, and bad arguments with what was wrong', async () => {
    const { url } = system.stack.file.control;
    await expect(
      sendFault({ url, token: 'guess' }, { service: 'servicebus', drop: true }),
    ).rejects.toMatchObject({ code: 'Refused' });
    const raw = (body: string) =>
      fetch(`${url}/faults`, {
        method: 'POST',
        headers: { authorization: `Bearer ${system.stack.file.control.token}` },
        body,
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error: string } }));
    expect(await raw('not json')).toMatchObject({ status: 400 });
    expect(await raw('{"service":"sql","seconds":5,"share":7}')).toEqual({
      status: 400,
      body: { error: '--share must be a number above 0, at most 1' },
    });
    // The stack still answers after bad requests.
    expect((await fault('sql', '--clear')).set).toBe('sql: faults cleared');
    expect(() => parseFaultArgs(['sql', '--seconds', '0'])).toThrow('--seconds must be a positive number');
    expect(() => parseFaultArgs(['sql', '--seconds', '5', '--share', '2'])).toThrow('--share');
    expect(() => parseFaultArgs(['redis', '--seconds', '5'])).toThrow('unknown command redis');
  });
});
