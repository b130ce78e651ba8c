import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { grantCommand, grants } from '../../src/identity/roles.ts';

// The roles table is the one source: the README shows it row for row (provisioning is compared
// with it in test/integration/provision.test.ts, the doctor reads it).
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('the roles table', () => {
  it('is the README table of identities, roles and scopes, row for row', () => {
    const table =
      readme.split('| identity | role | kind | scope | why |\n| --- | --- | --- | --- | --- |\n')[1] ?? '';
    const rows = table.slice(0, table.indexOf('\n\n')).split('\n');
    expect(rows).toEqual(
      grants.map((g) => `| ${g.principal} | ${g.role} | ${g.kind} | ${g.scope} | ${g.why} |`),
    );
  });

  it('gives no identity Owner or Contributor, and the worker no Data Sender', () => {
    expect(grants.filter((g) => /^(Owner|Contributor)$/.test(g.role))).toEqual([]);
    expect(
      grants.filter((g) => g.principal === 'worker' && g.role === 'Azure Service Bus Data Sender'),
    ).toEqual([]);
  });

  it('grants at the narrowest scope in the fix commands: the queue, not its namespace', () => {
    const receiver = grants.find((g) => g.principal === 'worker' && g.scope === 'queue');
    const command = grantCommand(receiver as (typeof grants)[number], {
      objectId: 'oid',
      name: 'keyless-worker',
    });
    expect(command).toContain('az servicebus queue show');
    expect(command).toContain('--role "Azure Service Bus Data Receiver"');
  });
});
