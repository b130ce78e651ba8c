import rhea, { type Message } from 'rhea';
import type { ConnectionAuthorizations, Right } from './authorizations.ts';
import { type Faults, takeSettlementFailure } from './faults.ts';
import { BrokerFault, isBrokerFault, lockLost, type SettleOutcome, trackingSuffix } from './model.ts';
import type { Namespace, ResolvedAddress } from './namespace.ts';
import {
  decodeMessage,
  encodeMessage,
  longValueToNumber,
  toWireMessage,
  uuidValue,
  uuidValueToString,
} from './wire-format.ts';

const { types } = rhea;

type Body = Record<string, unknown>;
type Operation = (body: Body, resolved: ResolvedAddress) => { status: number; body: unknown };

const RIGHTS: Record<string, Right> = {
  'com.microsoft:renew-lock': 'Listen',
  'com.microsoft:peek-message': 'Listen',
  'com.microsoft:receive-by-sequence-number': 'Listen',
  'com.microsoft:update-disposition': 'Listen',
  'com.microsoft:schedule-message': 'Send',
  'com.microsoft:cancel-scheduled-message': 'Send',
};

const asArray = (value: unknown): unknown[] =>
  Array.isArray(value) ? value : value === undefined ? [] : [value];

const receivable = (resolved: ResolvedAddress) => {
  if (!resolved.source)
    throw new BrokerFault('amqp:not-allowed', `Cannot receive from a topic.${trackingSuffix()}`, 400);
  return resolved.source;
};

const sendable = (resolved: ResolvedAddress) => {
  if (!resolved.target)
    throw new BrokerFault('amqp:not-allowed', `Cannot send to this entity.${trackingSuffix()}`, 400);
  return resolved.target;
};

const dispositionOutcome = (body: Body): SettleOutcome => {
  const properties = body['properties-to-modify'] as Record<string, unknown> | undefined;
  switch (body['disposition-status']) {
    case 'completed':
      return { kind: 'complete' };
    case 'abandoned':
      return { kind: 'abandon', properties };
    case 'defered':
      return { kind: 'defer', properties };
    case 'suspended':
      return {
        kind: 'dead-letter',
        reason: body['deadletter-reason'] as string | undefined,
        description: body['deadletter-description'] as string | undefined,
        properties,
      };
    default:
      throw new BrokerFault(
        'amqp:invalid-field',
        `Unknown disposition-status '${String(body['disposition-status'])}'.`,
        400,
      );
  }
};

/** The `$management` request-response operations of the Service Bus AMQP guide that the SDK uses. */
export function createManagementOperations(faults: Faults): Record<string, Operation> {
  return {
    'com.microsoft:renew-lock': (body, resolved) => {
      const entity = receivable(resolved);
      const until = asArray(body['lock-tokens']).map((t) => entity.renew(uuidValueToString(t)));
      return { status: 200, body: { expirations: types.wrap_array(until, 0x83, undefined) } };
    },
    'com.microsoft:peek-message': (body, resolved) => {
      const entity = receivable(resolved);
      const from = longValueToNumber(body['from-sequence-number'] ?? 1);
      const found = entity.peek(from, Number(body['message-count'] ?? 1));
      if (found.length === 0) return { status: 204, body: {} };
      const messages = found.map((stored) => ({
        message: encodeMessage(
          toWireMessage(stored, { state: stored.scheduledAt !== undefined ? 2 : stored.deferred ? 1 : 0 }),
        ),
      }));
      return { status: 200, body: { messages } };
    },
    'com.microsoft:receive-by-sequence-number': (body, resolved) => {
      const entity = receivable(resolved);
      const numbers = asArray(body['sequence-numbers']).map(longValueToNumber);
      const peekLock = Number(body['receiver-settle-mode'] ?? 1) === 1;
      const messages = entity.receiveDeferred(numbers, peekLock).map(({ stored, token }) => {
        const wire = toWireMessage(stored, { state: 1, lockedUntil: stored.lock?.until });
        const entry: Record<string, unknown> = { message: encodeMessage(wire) };
        if (token) entry['lock-token'] = uuidValue(token);
        return entry;
      });
      return { status: 200, body: { messages } };
    },
    'com.microsoft:update-disposition': (body, resolved) => {
      const entity = receivable(resolved);
      const outcome = dispositionOutcome(body);
      if (takeSettlementFailure(faults, outcome.kind)) throw lockLost();
      for (const token of asArray(body['lock-tokens'])) entity.settle(uuidValueToString(token), outcome);
      return { status: 200, body: {} };
    },
    'com.microsoft:schedule-message': (body, resolved) => {
      const target = sendable(resolved);
      const numbers = asArray(body.messages).map((entry) =>
        target.schedule(decodeMessage((entry as Body).message as Buffer)),
      );
      return { status: 200, body: { 'sequence-numbers': types.wrap_array(numbers, 0x81, undefined) } };
    },
    'com.microsoft:cancel-scheduled-message': (body, resolved) => {
      const target = sendable(resolved);
      for (const n of asArray(body['sequence-numbers'])) target.cancel(longValueToNumber(n));
      return { status: 200, body: {} };
    },
  };
}

const response = (
  request: Message,
  status: number,
  description: string,
  body: unknown,
  condition?: string,
) => {
  const properties: Record<string, unknown> = {
    statusCode: types.wrap_int(status),
    statusDescription: description,
  };
  if (condition) properties.errorCondition = types.wrap_symbol(condition);
  return {
    correlation_id: request.message_id,
    to: request.reply_to,
    application_properties: properties,
    body: types.wrap_map(body as Record<string, unknown>),
  } as Message;
};

/** Runs one management request against the entity its link addresses; errors become replies. */
export function answerManagement(
  request: Message,
  address: string,
  namespace: Namespace,
  authorizations: ConnectionAuthorizations,
  operations: Record<string, Operation>,
): Message {
  const operation = String((request.application_properties as Body | undefined)?.operation ?? '');
  try {
    const run = operations[operation];
    const right = RIGHTS[operation];
    if (!run || !right) {
      throw new BrokerFault('amqp:not-implemented', `The operation '${operation}' is not supported.`, 501);
    }
    const resolved = namespace.resolve(address);
    authorizations.demand(address, resolved, right);
    const result = run((request.body ?? {}) as Body, resolved);
    return response(request, result.status, result.status === 204 ? 'No Content' : 'OK', result.body);
  } catch (error: unknown) {
    if (isBrokerFault(error)) return response(request, error.status, error.message, {}, error.condition);
    const message = error instanceof Error ? error.message : String(error);
    return response(request, 500, message, {}, 'amqp:internal-error');
  }
}
