import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IdentityStandIn } from './identity.ts';
import type { ServiceBusStandIn } from './servicebus/index.ts';
import type { SqlFaults } from './sql/index.ts';

/** What `npm run fault` asks a running local stack for. */
export type FaultRequest =
  | { service: 'sql'; seconds: number; share: number; errorNumber: number }
  | { service: 'servicebus'; drop: true }
  | { service: 'identity'; seconds: number; status: number }
  | { service: 'sql' | 'identity'; clear: true };

/** What the stack set, in words, and when it ends (ISO time; absent for an instant fault). */
export type FaultAnswer = { set: string; endsAt?: string };

/** How `.local/stack.json` names the channel: a loopback URL and a random bearer token. */
export type FaultControlAddress = { url: string; token: string };

export type FaultControl = FaultControlAddress & { close(): Promise<void> };

/** A refused request: bad arguments (`BadRequest`), or a channel that is not there or refuses us. */
export class FaultControlError extends Error {
  override readonly name = 'FaultControlError';
  readonly code: 'BadRequest' | 'Unreachable' | 'Refused';
  constructor(code: FaultControlError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

type Targets = { sql: SqlFaults; serviceBus: ServiceBusStandIn; identity: IdentityStandIn };

const everyStatement = /[\s\S]/;
/** Errors Azure SQL also answers a login with: database unavailable, cannot open, service busy. */
const loginErrors: ReadonlySet<number> = new Set([40613, 4060, 40501]);

const apply = (t: Targets, r: FaultRequest): FaultAnswer => {
  if ('clear' in r) {
    if (r.service === 'sql') t.sql.clear();
    else t.identity.failUntil(0, { status: 500 });
    return { set: `${r.service}: faults cleared` };
  }
  if (r.service === 'servicebus') {
    const open = t.serviceBus.openConnections();
    t.serviceBus.dropConnections();
    return { set: `servicebus: dropped ${open} connection${open === 1 ? '' : 's'}` };
  }
  const untilMs = Date.now() + r.seconds * 1000;
  const endsAt = new Date(untilMs).toISOString();
  if (r.service === 'sql') {
    // An unavailable or busy database refuses logins too, as during an Azure SQL failover: a connection
    // opened in the window fails at login (what pools expect), not in the session setup batch after it.
    // A statement-level error (a deadlock) leaves logins alone.
    const logins = loginErrors.has(r.errorNumber);
    t.sql.failStatementsUntil(everyStatement, r.errorNumber, untilMs, r.share);
    if (logins) t.sql.failLoginsUntil(r.errorNumber, untilMs, r.share);
    const every = logins ? 'every login and statement' : 'every statement';
    const some = logins ? 'logins and statements' : 'statements';
    const what = r.share >= 1 ? `${every} fails` : `${Math.round(r.share * 100)}% of ${some} fail`;
    return { set: `sql: ${what} with error ${r.errorNumber} for ${r.seconds} s`, endsAt };
  }
  t.identity.failUntil(untilMs, { status: r.status, body: 'fault injected by npm run fault' });
  return { set: `identity: the endpoint answers ${r.status} for ${r.seconds} s`, endsAt };
};

const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** Checks a request (from the wire, or from `npm run fault`); a bad one is refused with what was wrong. */
export const checkFaultRequest = (body: unknown): FaultRequest => {
  const r = (body ?? {}) as Record<string, unknown>;
  const bad = (m: string): never => {
    throw new FaultControlError('BadRequest', m);
  };
  if (r.service === 'servicebus')
    return r.drop === true ? { service: 'servicebus', drop: true } : bad('servicebus needs --drop');
  if (r.service !== 'sql' && r.service !== 'identity')
    return bad(`unknown service ${String(r.service)}; expected sql, servicebus or identity`);
  if (r.clear === true) return { service: r.service, clear: true };
  if (!positive(r.seconds)) return bad('--seconds must be a positive number');
  if (r.service === 'identity') {
    const status = r.status ?? 500;
    if (!(typeof status === 'number' && status >= 400 && status <= 599))
      return bad('--status must be 400-599');
    return { service: 'identity', seconds: r.seconds, status };
  }
  const share = r.share ?? 1;
  if (!(typeof share === 'number' && share > 0 && share <= 1))
    return bad('--share must be a number above 0, at most 1');
  const errorNumber = r.errorNumber ?? 40613;
  if (!Number.isInteger(errorNumber)) return bad('--error must be a SQL error number');
  return { service: 'sql', seconds: r.seconds, share, errorNumber: errorNumber as number };
};

const readBody = async (req: IncomingMessage): Promise<string> => {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > 10_000) throw new FaultControlError('BadRequest', 'request too large');
  }
  return text;
};

const authorized = (req: IncomingMessage, token: string): boolean => {
  const given = Buffer.from(req.headers.authorization ?? '');
  const wanted = Buffer.from(`Bearer ${token}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
};

/**
 * The local stack's control channel: `POST /faults` on 127.0.0.1 with the stack's random token sets
 * a fault on a stand-in. Only processes that can read `.local/stack.json` can use it.
 */
export async function startFaultControl(targets: Targets): Promise<FaultControl> {
  const token = randomUUID();
  const reply = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    if (!authorized(req, token)) return reply(res, 401, { error: 'wrong or missing token' });
    if (req.method !== 'POST' || req.url !== '/faults') return reply(res, 404, { error: 'POST /faults' });
    // A bad body (not JSON, bad values) is answered 400; it must never become an unhandled rejection
    // that takes the whole stack down.
    readBody(req)
      .then((text) => reply(res, 200, apply(targets, checkFaultRequest(JSON.parse(text)))))
      .catch((error: unknown) => reply(res, 400, { error: (error as Error).message }));
  });
  server.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    token,
    close() {
      closing ??= new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** Sends one fault request to a running stack's control channel. */
export async function sendFault(control: FaultControlAddress, request: FaultRequest): Promise<FaultAnswer> {
  let res: Response;
  try {
    res = await fetch(`${control.url}/faults`, {
      method: 'POST',
      headers: { authorization: `Bearer ${control.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(request),
    });
  } catch (error: unknown) {
    throw new FaultControlError(
      'Unreachable',
      `the local stack's control channel at ${control.url} does not answer (${(error as Error).message}); is the stack still running?`,
    );
  }
  const body = (await res.json()) as FaultAnswer & { error?: string };
  if (res.status === 400) throw new FaultControlError('BadRequest', body.error ?? 'bad request');
  if (!res.ok)
    throw new FaultControlError('Refused', `the control channel answered ${res.status}: ${body.error}`);
  return body;
}
