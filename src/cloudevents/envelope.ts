import type { ServiceBusMessage, ServiceBusReceivedMessage } from '@azure/service-bus';
import type { z } from 'zod';
import { attributesSchema, quickAttributes, traceparentPattern } from './attributes.ts';
import type { CloudEvent } from './cloud-event.ts';
import { describeIssues, formatPath, truncate } from './describe-issues.ts';

/** Event type → data schema: what parsing validates `data` with. */
export type EventSchemas = ReadonlyMap<string, z.ZodType>;

/**
 * Options every receiver of CloudEvents needs. With `skipConvertingDate` the SDK hands an AMQP
 * timestamp over as a Date and a number stays a number, so `cloudEvents:time` is unambiguous.
 */
export const cloudEventReceiverOptions = {
  // Raw bytes let the envelope tell bad UTF-8 and bad JSON apart, instead of the SDK's silent fallback.
  skipParsingBodyAsJson: true,
  skipConvertingDate: true,
} as const;

/** An event to publish, or a message sent as is (tests and the publish script send invalid ones). */
export type PublishItem = CloudEvent | { raw: ServiceBusMessage };

/** How the CloudEvents AMQP binding carries an event: all in the body, or attributes in properties. */
export type ContentMode = 'structured' | 'binary';

/** The dead-letter reasons parsing can produce. */
export type EnvelopeFailureReason = 'InvalidJson' | 'InvalidEnvelope' | 'UnknownType' | 'ValidationFailed';

export type ParseResult =
  | { ok: true; event: CloudEvent; mode: ContentMode }
  | { ok: false; reason: EnvelopeFailureReason; description: string };

/** The parts of a received message parsing reads, so callers and tests can pass plain objects. */
export type ReceivedMessageLike = Pick<
  ServiceBusReceivedMessage,
  'messageId' | 'contentType' | 'applicationProperties' | 'body'
>;

/** Content type of structured mode with the JSON event format. */
export const structuredContentType = 'application/cloudevents+json; charset=utf-8';
/** Application property prefix of binary mode, as the CloudEvents AMQP binding defines it. */
export const attributePrefix = 'cloudEvents:';
// Earlier revisions of the binding also allowed `cloudEvents_` (JMS-safe names); accept it on input.
const legacyPrefix = 'cloudEvents_';

type Step<T> = { ok: true; value: T } | { ok: false; reason: EnvelopeFailureReason; description: string };

const fail = (reason: EnvelopeFailureReason, description: string) =>
  ({ ok: false, reason, description: truncate(description) }) as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });

// Publishers send the same content type on every message: one entry saves its parse each time.
let lastContentType: string | undefined;
let lastMedia: string | undefined;
const mediaType = (contentType: string | undefined): string | undefined => {
  if (contentType !== lastContentType) {
    lastContentType = contentType;
    lastMedia = contentType?.split(';')[0]?.trim().toLowerCase() || undefined;
  }
  return lastMedia;
};

const isJsonMedia = (media: string | undefined): boolean =>
  media === undefined || media === 'application/json' || media === 'text/json' || media.endsWith('+json');

/**
 * The SDK hands the body over as bytes (`skipParsingBodyAsJson`, or when its own JSON.parse failed),
 * as a string (the publisher sent a JSON string), or as what its JSON.parse made of it.
 */
export function decodeJsonBody(body: unknown): Step<unknown> {
  if (body === undefined || body === null) return fail('InvalidJson', 'the body is empty');
  if (body instanceof Uint8Array) {
    let decoded: string;
    try {
      decoded = utf8.decode(body);
    } catch {
      return fail('InvalidJson', 'the body is not valid UTF-8');
    }
    return parseJsonText(decoded);
  }
  if (typeof body === 'string') return parseJsonText(body);
  return { ok: true, value: body };
}

function parseJsonText(json: string): Step<unknown> {
  if (json.trim() === '') return fail('InvalidJson', 'the body is empty');
  try {
    return { ok: true, value: JSON.parse(json) };
  } catch (error: unknown) {
    return fail(
      'InvalidJson',
      `the body is not JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);

const kindOf = (value: unknown): string =>
  Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`;

function structuredAttributes(message: ReceivedMessageLike): Step<{ raw: Record<string, unknown> }> {
  const media = mediaType(message.contentType);
  if (media !== 'application/cloudevents+json') {
    return fail(
      'InvalidEnvelope',
      `content type ${message.contentType}: only the JSON event format is supported`,
    );
  }
  const decoded = decodeJsonBody(message.body);
  if (!decoded.ok) return decoded;
  let value = decoded.value;
  // A publisher that passed JSON text as a string to the SDK gets it JSON-encoded once more.
  if (typeof value === 'string') {
    const inner = parseJsonText(value);
    if (!inner.ok) return inner;
    value = inner.value;
  }
  if (!isRecord(value)) {
    return fail('InvalidEnvelope', `the structured body must be a JSON object, got ${kindOf(value)}`);
  }
  return { ok: true, value: { raw: value } };
}

/**
 * The binding carries a Timestamp as an AMQP timestamp (a Date, with `skipConvertingDate`) or as its
 * RFC 3339 string; both must be read. An invalid Date stays a Date, refused by the schema.
 * Attributes of the other mapped types (boolean, long, binary) are extensions the worker does not
 * store; the String and URI attributes it stores must be AMQP strings.
 */
const canonicalTimestamp = (value: unknown, options: ParseOptions): unknown => {
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString();
  if (options.timestampsAsEpochMs && typeof value === 'number' && Number.isFinite(value)) {
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? value : date.toISOString();
  }
  return value;
};

/** How the receiving SDK call handed the message over. */
export type ParseOptions = {
  /**
   * The SDK turned AMQP timestamps into epoch milliseconds: `receiveDeferredMessages` does so
   * whatever `skipConvertingDate` says (@azure/service-bus 7.9.5). Only for messages that passed
   * this parser once before they were deferred. @defaultValue false
   */
  timestampsAsEpochMs?: boolean;
};

function binaryAttributes(
  message: ReceivedMessageLike,
  options: ParseOptions,
): Step<{ raw: Record<string, unknown> }> {
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message.applicationProperties ?? {})) {
    const prefix = key.startsWith(attributePrefix)
      ? attributePrefix
      : key.startsWith(legacyPrefix)
        ? legacyPrefix
        : '';
    if (!prefix) continue;
    const name = key.slice(prefix.length);
    raw[name] = name === 'time' ? canonicalTimestamp(value, options) : value;
  }
  if (Object.keys(raw).length === 0) {
    return fail(
      'InvalidEnvelope',
      `not a CloudEvent: content type is ${message.contentType ?? 'absent'} (structured mode needs ` +
        `application/cloudevents+json) and there are no ${attributePrefix}* application properties (binary mode)`,
    );
  }
  // In binary mode the AMQP content type is the data content type.
  delete raw.datacontenttype;
  if (message.contentType) raw.datacontenttype = message.contentType;
  const media = mediaType(message.contentType);
  if (isJsonMedia(media)) {
    const decoded = decodeJsonBody(message.body);
    if (!decoded.ok) return decoded;
    raw.data = decoded.value;
  } else {
    raw.data = message.body instanceof Uint8Array ? Buffer.from(message.body) : message.body;
  }
  return { ok: true, value: { raw } };
}

const traceFromProperties = (message: ReceivedMessageLike): string | undefined => {
  const props = message.applicationProperties ?? {};
  const candidate = props.traceparent ?? props['Diagnostic-Id'];
  return typeof candidate === 'string' && traceparentPattern.test(candidate) ? candidate : undefined;
};

function structuredData(raw: Record<string, unknown>): Step<unknown> {
  if ('data_base64' in raw) {
    if ('data' in raw) return fail('InvalidEnvelope', 'envelope has both "data" and "data_base64"');
    if (typeof raw.data_base64 !== 'string') {
      return fail('InvalidEnvelope', 'envelope field "data_base64": expected a base64 string');
    }
    return { ok: true, value: Buffer.from(raw.data_base64, 'base64') };
  }
  return { ok: true, value: raw.data };
}

/**
 * Parses a received message into a validated CloudEvent, or says why it cannot be one. The checks
 * run from the outside in (JSON, envelope, MessageId, type, data) and the first failure wins, so
 * the description names exactly one layer.
 */
export function parseCloudEvent(
  message: ReceivedMessageLike,
  schemas: EventSchemas,
  options: ParseOptions = {},
): ParseResult {
  const mode: ContentMode = mediaType(message.contentType)?.startsWith('application/cloudevents')
    ? 'structured'
    : 'binary';
  const extracted =
    mode === 'structured' ? structuredAttributes(message) : binaryAttributes(message, options);
  if (!extracted.ok) return extracted;
  const { raw } = extracted.value;

  let attributes = quickAttributes(raw);
  if (!attributes) {
    const parsed = attributesSchema.safeParse(raw);
    if (!parsed.success) {
      const name = (path: readonly PropertyKey[]) =>
        mode === 'structured'
          ? `envelope field "${formatPath(path)}"`
          : `application property "${attributePrefix}${formatPath(path)}"`;
      return fail('InvalidEnvelope', describeIssues(parsed.error, raw, name));
    }
    attributes = parsed.data;
  }

  if (message.messageId === undefined || message.messageId === null || message.messageId === '') {
    return fail('InvalidEnvelope', `MessageId is missing; it must equal the event id "${attributes.id}"`);
  }
  const messageId = String(message.messageId);
  if (messageId !== attributes.id) {
    return fail('InvalidEnvelope', `MessageId "${messageId}" does not equal the event id "${attributes.id}"`);
  }

  const schema = schemas.get(attributes.type);
  if (!schema) {
    return fail('UnknownType', `no handler is registered for event type "${attributes.type}"`);
  }

  const rawData = mode === 'structured' ? structuredData(raw) : { ok: true as const, value: raw.data };
  if (!rawData.ok) return rawData;
  const data = schema.safeParse(rawData.value);
  if (!data.success) {
    return fail(
      'ValidationFailed',
      describeIssues(data.error, rawData.value, (path) => formatPath(['data', ...path])),
    );
  }

  const traceparent = attributes.traceparent ?? traceFromProperties(message);
  // Built in place, attribute by attribute (the order its inbox payload keeps): one object a message.
  const event = {
    specversion: attributes.specversion,
    id: attributes.id,
    source: attributes.source,
    type: attributes.type,
  } as CloudEvent;
  if (attributes.time !== undefined) event.time = attributes.time;
  if (attributes.subject !== undefined) event.subject = attributes.subject;
  if (attributes.datacontenttype !== undefined) event.datacontenttype = attributes.datacontenttype;
  if (attributes.dataschema !== undefined) event.dataschema = attributes.dataschema;
  if (traceparent !== undefined) event.traceparent = traceparent;
  event.data = data.data;
  return { ok: true, event, mode };
}

const optionalAttributes = ['time', 'subject', 'dataschema', 'traceparent'] as const;

/**
 * The Service Bus message that carries `event`. MessageId is the event id, so duplicate detection
 * and the SQL inbox key on it; Subject is the event type, so topic subscriptions can filter on it.
 */
export function toServiceBusMessage(event: CloudEvent, mode: ContentMode = 'structured'): ServiceBusMessage {
  const applicationProperties: Record<string, string> = {};
  if (event.traceparent) {
    applicationProperties.traceparent = event.traceparent;
    applicationProperties['Diagnostic-Id'] = event.traceparent;
  }
  const bytes = event.data instanceof Uint8Array;
  if (mode === 'structured') {
    const { data, ...attributes } = event;
    const envelope = bytes
      ? { ...attributes, data_base64: Buffer.from(data as Uint8Array).toString('base64') }
      : { ...attributes, data };
    return {
      messageId: event.id,
      subject: event.type,
      contentType: structuredContentType,
      body: Buffer.from(JSON.stringify(envelope), 'utf8'),
      applicationProperties,
    };
  }
  for (const key of ['specversion', 'id', 'source', 'type', ...optionalAttributes] as const) {
    const value = event[key];
    if (value !== undefined) applicationProperties[`${attributePrefix}${key}`] = value;
  }
  const contentType = event.datacontenttype ?? (bytes ? 'application/octet-stream' : 'application/json');
  const body = bytes
    ? Buffer.from(event.data as Uint8Array)
    : typeof event.data === 'string' && !isJsonMedia(mediaType(contentType))
      ? Buffer.from(event.data, 'utf8')
      : Buffer.from(JSON.stringify(event.data ?? null), 'utf8');
  return { messageId: event.id, subject: event.type, contentType, body, applicationProperties };
}
