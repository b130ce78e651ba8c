import { checkFaultRequest, type FaultRequest } from '../../test/stand-ins/fault-control.ts';
import { defineCommand, type Flag, parseGroup, UsageError, usageError, type Values } from './cli.ts';
import { durationMs } from './cli-values.ts';

const seconds = { type: 'string', value: 'DURATION', help: 'how long: 20 (seconds), 30s, 2m' } as const;
const clear = { type: 'boolean', help: 'ends the fault early' } as const;
const wait = { type: 'boolean', help: 'stays until the fault ends, and says so' } as const satisfies Flag;

/** The request as the control channel checks it; its refusal (naming the flag) is a usage error. */
const request = (raw: Record<string, unknown>): FaultRequest => {
  try {
    return checkFaultRequest(raw);
  } catch (error: unknown) {
    return usageError((error as Error).message);
  }
};
const timed = (v: Values<{ seconds: typeof seconds; clear: typeof clear }>) => {
  if (v.clear)
    return v.seconds === undefined ? { clear: true } : usageError('give --seconds or --clear, not both');
  return {
    seconds:
      v.seconds === undefined ? usageError('--seconds is required') : durationMs('seconds', v.seconds) / 1000,
  };
};
const number = (v: string | undefined) => (v === undefined ? undefined : Number(v));

export type FaultCommand = { request: FaultRequest; wait: boolean };

const sql = defineCommand({
  name: 'fault sql',
  usage: 'npm run fault -- sql --seconds DURATION [--share S] [--error N] [--wait] | --clear',
  about:
    'SQL logins and statements fail with a SQL error (default 40613, database unavailable; 1205\n' +
    'deadlocks fail statements only), all of them or a share.',
  flags: {
    seconds,
    share: { type: 'string', value: 'S', help: 'share of them that fail, above 0 to 1 (default 1)' },
    error: { type: 'string', value: 'N', help: 'the SQL error number (default 40613)' },
    clear,
    wait,
  },
  parse: (v): FaultCommand => ({
    request: request({ service: 'sql', ...timed(v), share: number(v.share), errorNumber: number(v.error) }),
    wait: v.wait === true,
  }),
});

const servicebus = defineCommand({
  name: 'fault servicebus',
  usage: 'npm run fault -- servicebus --drop',
  about: 'Drops every Service Bus connection now; clients reconnect.',
  flags: { drop: { type: 'boolean', help: 'drops the connections' } },
  parse: (v): FaultCommand => ({
    request: request({ service: 'servicebus', drop: v.drop === true }),
    wait: false,
  }),
});

const identity = defineCommand({
  name: 'fault identity',
  usage: 'npm run fault -- identity --seconds DURATION [--status N] [--wait] | --clear',
  about: 'The managed identity endpoint answers an HTTP error instead of tokens.',
  flags: {
    seconds,
    status: { type: 'string', value: 'N', help: 'the HTTP status, 400-599 (default 500)' },
    clear,
    wait,
  },
  parse: (v): FaultCommand => ({
    request: request({ service: 'identity', ...timed(v), status: number(v.status) }),
    wait: v.wait === true,
  }),
});

export const faultCommands = {
  name: 'fault',
  usage: 'npm run fault -- <sql|servicebus|identity> [options]',
  about:
    'Makes the running local stack (`npm start` or `npm run stack`) misbehave for a while, to watch\n' +
    'the worker ride through it. Prints what it set and when it ends.',
  commands: { sql, servicebus, identity },
};

/** `npm run fault` arguments → the request, or a UsageError naming what is wrong. */
export function parseFaultArgs(argv: readonly string[]): FaultRequest {
  const parsed = parseGroup(faultCommands, argv);
  if ('help' in parsed) throw new UsageError('--help is not a request');
  return parsed.value.request;
}
