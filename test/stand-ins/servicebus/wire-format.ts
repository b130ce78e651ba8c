import rhea, { type Message } from 'rhea';
import type { MessageSnapshot, StoredMessage } from './model.ts';

const { string_to_uuid, types, uuid_to_string } = rhea;

/** rhea's decode returns its message-module type; the connection-module `Message` is the one links use. */
export const decodeMessage = (bytes: Buffer): Message => rhea.message.decode(bytes) as unknown as Message;

/** The format of a transfer that carries a batch: data sections, each an encoded message. */
export const BATCH_FORMAT = 0x80013700;

/** .NET writes a GUID's first three fields little-endian; the SDK swaps them back. */
const swapGuidBytes = (b: Buffer): Buffer =>
  Buffer.from([b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], ...b.subarray(8)] as number[]);

export const lockTokenToTag = (token: string): Buffer => swapGuidBytes(Buffer.from(string_to_uuid(token)));

export const tagToLockToken = (tag: Buffer | string): string =>
  uuid_to_string(swapGuidBytes(typeof tag === 'string' ? Buffer.from(tag) : tag));

/** Lock tokens in management requests are AMQP uuids in RFC byte order. */
export const uuidValueToString = (value: unknown): string =>
  Buffer.isBuffer(value) ? uuid_to_string(value) : String(value);

export const uuidValue = (token: string): unknown => types.wrap_uuid(Buffer.from(string_to_uuid(token)));

/** Sequence numbers arrive as AMQP longs: a number when it fits, else 8 big-endian bytes. */
export const longValueToNumber = (value: unknown): number =>
  Buffer.isBuffer(value) ? Number(value.readBigInt64BE(0)) : Number(value);

/** Splits what a sender transferred into the messages it carries. */
export function decodeTransfer(payload: Message | Buffer, format: number | undefined): Message[] {
  if (!Buffer.isBuffer(payload)) return [payload];
  const outer = decodeMessage(payload);
  if (format !== BATCH_FORMAT) return [outer];
  const body = outer.body as { content?: Buffer | Buffer[]; multiple?: boolean } | undefined;
  const content = body?.content;
  if (content === undefined) return [];
  const parts = Array.isArray(content) && body?.multiple ? content : [content as Buffer];
  return parts.map((part) => decodeMessage(part));
}

export type Delivered = { lockedUntil?: number; state: 0 | 1 | 2 };

/** The message as a receiver gets it: the sender's sections with the broker's annotations and header. */
export function toWireMessage(stored: StoredMessage, delivered: Delivered): Message {
  const annotations: Record<string, unknown> = {
    ...(stored.amqp.message_annotations ?? {}),
    'x-opt-sequence-number': types.wrap_long(stored.sequenceNumber),
    'x-opt-enqueued-time': new Date(stored.enqueuedAt),
    'x-opt-message-state': types.wrap_int(delivered.state),
  };
  if (delivered.lockedUntil !== undefined)
    annotations['x-opt-locked-until'] = new Date(delivered.lockedUntil);
  if (stored.deadLetterSource !== undefined) annotations['x-opt-deadletter-source'] = stored.deadLetterSource;
  return {
    ...stored.amqp,
    durable: stored.amqp.durable ?? false,
    delivery_count: stored.deliveryCount,
    message_id: stored.messageId,
    message_annotations: annotations,
  } as Message;
}

export const encodeMessage = (message: Message): Buffer => rhea.message.encode(message);

/** The body as the SDK would show it: JSON when the data parses, else bytes or the AMQP value. */
export function bodyOf(message: Message): unknown {
  const body = message.body as unknown;
  const data = (body as { typecode?: number; content?: unknown } | undefined)?.content;
  if (body && typeof body === 'object' && (body as { typecode?: number }).typecode === 0x75) {
    if (Buffer.isBuffer(data)) {
      try {
        return JSON.parse(data.toString('utf8')) as unknown;
      } catch {
        return data;
      }
    }
    return data;
  }
  return body;
}

export function snapshot(stored: StoredMessage): MessageSnapshot {
  const props = (stored.amqp.application_properties ?? {}) as Record<string, unknown>;
  const state =
    stored.scheduledAt !== undefined
      ? 'scheduled'
      : stored.deferred
        ? 'deferred'
        : stored.lock
          ? 'locked'
          : 'active';
  return {
    sequenceNumber: stored.sequenceNumber,
    messageId: stored.messageId,
    state,
    deliveryCount: stored.deliveryCount,
    body: bodyOf(stored.amqp),
    applicationProperties: props,
    reason: props.DeadLetterReason as string | undefined,
    description: props.DeadLetterErrorDescription as string | undefined,
    deadLetterSource: stored.deadLetterSource,
  };
}
