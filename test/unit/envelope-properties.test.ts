import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attributesSchema, quickAttributes } from '../../src/cloudevents/attributes.ts';
import type { CloudEvent } from '../../src/cloudevents/cloud-event.ts';
import {
  type ContentMode,
  parseCloudEvent,
  type ReceivedMessageLike,
  toServiceBusMessage,
} from '../../src/cloudevents/envelope.ts';
import { parcelRegisteredType, parcelStatusChangedType, parcels } from '../fixtures/parcels/events.ts';

const { schemas } = parcels;
const reasons = ['InvalidJson', 'InvalidEnvelope', 'UnknownType', 'ValidationFailed'];
const attributeNames = [
  'specversion',
  'id',
  'source',
  'type',
  'time',
  'subject',
  'datacontenttype',
  'dataschema',
  'traceparent',
  'data',
];

/** Every value an application property can take once the SDK has decoded it. */
const amqpValue = fc.oneof(
  fc.string(),
  fc.constantFrom('1.0', parcelRegisteredType, parcelStatusChangedType, '2025-03-01T10:15:00Z', '/s'),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.date({ noInvalidDate: false }),
  fc.constant(new Date(Number.NaN)),
  fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)),
  fc.constant(null),
  fc.constant(undefined),
);

const propertyName = fc.oneof(
  fc.constantFrom(...attributeNames).chain((n) => fc.constantFrom(`cloudEvents:${n}`, `cloudEvents_${n}`)),
  fc.constantFrom('traceparent', 'Diagnostic-Id'),
  fc.string({ maxLength: 12 }),
);

/** Envelopes near the valid ones, so the property reaches the data schemas, not only the JSON parser. */
const envelopeLike = fc.dictionary(fc.constantFrom(...attributeNames, 'data_base64', 'x'), fc.jsonValue(), {
  maxKeys: 10,
});

const body = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  fc.string(),
  fc.jsonValue(),
  envelopeLike,
  envelopeLike.map((e) => Buffer.from(JSON.stringify(e))),
  fc.constant(undefined),
  fc.constant(null),
);

const contentType = fc.oneof(
  fc.constantFrom(
    'application/cloudevents+json',
    'application/cloudevents+json; charset=utf-8',
    'application/cloudevents+avro',
    'application/json',
    'text/plain',
    'application/octet-stream',
  ),
  fc.string(),
  fc.constant(undefined),
);

const message: fc.Arbitrary<ReceivedMessageLike> = fc.record({
  messageId: fc.oneof(fc.string(), fc.integer(), fc.constant(undefined), fc.constant('evt-1')),
  contentType,
  body,
  applicationProperties: fc.option(fc.dictionary(propertyName, amqpValue, { maxKeys: 8 }), {
    nil: undefined,
  }),
}) as fc.Arbitrary<ReceivedMessageLike>;

const uuid = fc.uuid({ version: 4 });
// Graphemes reach UTF-16 surrogate pairs and combining marks; the filter keeps the column bound.
const text = (max: number) =>
  fc.string({ minLength: 1, maxLength: max, unit: 'grapheme' }).filter((s) => s.length <= max);
const rfc3339 = fc
  .date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })
  .map((d) => d.toISOString());

const registeredData = fc.record({
  parcelId: uuid,
  sender: text(64),
  weightKg: fc
    .tuple(fc.nat({ max: 99_999 }), fc.nat({ max: 999 }))
    .map(([w, g]) => `${w}.${String(g).padStart(3, '0')}`),
  registeredAt: rfc3339,
  labels: fc.array(fc.record({ code: text(32) }), { minLength: 1, maxLength: 4 }),
});
const statusData = fc.record({
  parcelId: uuid,
  status: fc.constantFrom('in-transit', 'delivered', 'returned'),
  version: fc.integer({ min: 1, max: 2_147_483_647 }),
});

/** Valid events with every optional attribute present or not. */
const validEvent: fc.Arbitrary<CloudEvent> = fc
  .record(
    {
      id: text(128),
      source: text(200),
      time: rfc3339,
      subject: text(50),
      dataschema: fc.webUrl(),
      traceparent: fc
        .tuple(fc.stringMatching(/^[0-9a-f]{32}$/), fc.stringMatching(/^[0-9a-f]{16}$/))
        .map(([t, s]) => `00-${t}-${s}-01`),
      payload: fc.oneof(
        registeredData.map((data) => ({ type: parcelRegisteredType, data })),
        statusData.map((data) => ({ type: parcelStatusChangedType, data })),
      ),
    },
    { requiredKeys: ['id', 'source', 'payload'] },
  )
  .map(({ payload, ...attributes }) => ({ specversion: '1.0', ...attributes, ...payload }) as CloudEvent);

/** What a receiver with `skipParsingBodyAsJson` gets for a sent message: the body as bytes. */
const received = (event: CloudEvent, mode: ContentMode): ReceivedMessageLike => {
  const sent = toServiceBusMessage(event, mode);
  return { ...sent, body: Buffer.from(sent.body as Buffer) } as ReceivedMessageLike;
};

/** Valid messages with some attributes, the content type or the body replaced by arbitrary values. */
const mutated: fc.Arbitrary<ReceivedMessageLike> = fc
  .record({
    event: validEvent,
    mode: fc.constantFrom<ContentMode>('structured', 'binary'),
    properties: fc.dictionary(propertyName, amqpValue, { maxKeys: 3 }),
    contentType: fc.option(contentType),
    body: fc.option(body),
  })
  .map(({ event, mode, properties, contentType: type, body: replaced }) => {
    const m = received(event, mode);
    return {
      ...m,
      applicationProperties: { ...m.applicationProperties, ...properties },
      ...(type !== null && { contentType: type }),
      ...(replaced !== null && { body: replaced }),
    } as ReceivedMessageLike;
  });

describe('the envelope parser on arbitrary input', () => {
  it('never throws and returns either an event or a reason with a description', () => {
    fc.assert(
      fc.property(fc.oneof(message, mutated), (m) => {
        const result = parseCloudEvent(m, schemas);
        if (result.ok) {
          expect(result.event.specversion).toBe('1.0');
          expect(result.event.id).toBe(String(m.messageId));
          expect(schemas.has(result.event.type)).toBe(true);
        } else {
          expect(reasons).toContain(result.reason);
          expect(result.description.length).toBeGreaterThan(0);
          expect(result.description.length).toBeLessThanOrEqual(2048);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it.each(['structured', 'binary'] as const)(
    'round-trips valid events through toServiceBusMessage in %s mode',
    (mode) => {
      fc.assert(
        fc.property(validEvent, (event) => {
          const result = parseCloudEvent(received(event, mode), schemas);
          // Binary mode carries the data content type in the AMQP content type, which is always set.
          const expected = mode === 'binary' ? { ...event, datacontenttype: 'application/json' } : event;
          expect(result).toEqual({ ok: true, mode, event: expected });
        }),
        { numRuns: 300 },
      );
    },
  );
});

describe('the quick read of an envelope’s attributes', () => {
  const attributeValue = fc.oneof(
    amqpValue,
    fc.constantFrom('1.0', '', 'x'.repeat(128), 'x'.repeat(129), '😀'.repeat(64), '😀'.repeat(65)),
    fc.constantFrom('2025-03-01T10:15:00Z', '2025-02-30T10:15:00Z', '2025-03-01T10:15:00.12345678Z'),
    fc.constantFrom('0001-01-01T00:00:00+01:00', '9999-12-31T23:59:59-01:00', '2025-03-01T10:15:00+15:00'),
    fc.constantFrom('https://example.com/s', 'not a uri', `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`),
  );
  const raw = fc.dictionary(
    fc.constantFrom(...attributeNames.filter((n) => n !== 'data'), 'x'),
    attributeValue,
    {
      maxKeys: 10,
    },
  );

  it('accepts exactly what the schema accepts, with the same attributes', () => {
    fc.assert(
      fc.property(raw, (r) => {
        const quick = quickAttributes(r);
        const full = attributesSchema.safeParse(r);
        // The quick read may leave a valid envelope to the schema, never accept an invalid one.
        if (quick) expect(full).toEqual({ success: true, data: quick });
      }),
      { numRuns: 5_000 },
    );
  });

  it('reads every valid envelope of the generators itself', () => {
    fc.assert(
      fc.property(validEvent, (event) => {
        const { data: _, ...attributes } = event as CloudEvent & Record<string, unknown>;
        expect(quickAttributes(attributes)).toEqual(attributesSchema.parse(attributes));
      }),
      { numRuns: 500 },
    );
  });
});
