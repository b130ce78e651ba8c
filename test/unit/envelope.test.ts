import { describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../src/cloudevents/cloud-event.ts';
import {
  parseCloudEvent,
  type ReceivedMessageLike,
  toServiceBusMessage,
} from '../../src/cloudevents/envelope.ts';
import { parcelStatusChangedType, parcels } from '../fixtures/parcels/events.ts';

const { schemas } = parcels;
const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

const event: CloudEvent = {
  specversion: '1.0',
  id: 'evt-1',
  source: '/orders/api',
  type: parcelStatusChangedType,
  time: '2025-03-01T10:15:00Z',
  traceparent,
  data: { parcelId: '3f1c7a52-8c1e-4b8e-9a57-2f4d1f0b9c11', status: 'delivered', version: 2 },
};

const envelopeJson = (patch: Record<string, unknown> = {}) =>
  JSON.stringify({
    specversion: '1.0',
    id: 'evt-1',
    source: '/s',
    type: event.type,
    data: event.data,
    ...patch,
  });

const structured = (body: unknown, messageId: unknown = 'evt-1'): ReceivedMessageLike =>
  ({ messageId, contentType: 'application/cloudevents+json; charset=utf-8', body }) as ReceivedMessageLike;

const binary = (props: Record<string, unknown>, body: unknown, contentType = 'application/json') =>
  ({
    messageId: 'evt-1',
    contentType,
    body,
    applicationProperties: {
      'cloudEvents:specversion': '1.0',
      'cloudEvents:id': 'evt-1',
      'cloudEvents:source': '/s',
      'cloudEvents:type': event.type,
      ...props,
    },
  }) as ReceivedMessageLike;

describe('parseCloudEvent, structured mode', () => {
  it.each([
    ['bytes', Buffer.from(envelopeJson())],
    ['a Uint8Array', new TextEncoder().encode(envelopeJson())],
    ['a string of JSON', envelopeJson()],
    ['an object the SDK already decoded', JSON.parse(envelopeJson())],
    ['a JSON string the SDK decoded once', JSON.stringify(envelopeJson())],
  ])('parses a body given as %s', (_name, body) => {
    const result = parseCloudEvent(structured(body), schemas);
    expect(result).toMatchObject({ ok: true, mode: 'structured', event: { id: 'evt-1', data: event.data } });
  });

  it('dead-letters a body that is not JSON as InvalidJson', () => {
    const result = parseCloudEvent(structured(Buffer.from('{"id": ')), schemas);
    expect(result).toMatchObject({ ok: false, reason: 'InvalidJson' });
    expect(result.ok || result.description).toMatch(/^the body is not JSON: /);
  });

  it('dead-letters a body that is not UTF-8 as InvalidJson', () => {
    expect(parseCloudEvent(structured(Buffer.from([0xff, 0xfe, 0x7b])), schemas)).toEqual({
      ok: false,
      reason: 'InvalidJson',
      description: 'the body is not valid UTF-8',
    });
  });

  it('names every missing or wrong envelope field', () => {
    const result = parseCloudEvent(
      structured(envelopeJson({ specversion: '0.3', source: undefined })),
      schemas,
    );
    expect(result).toEqual({
      ok: false,
      reason: 'InvalidEnvelope',
      description: 'envelope field "specversion": expected "1.0"; envelope field "source": is missing',
    });
  });

  it('rejects a JSON array body', () => {
    expect(parseCloudEvent(structured('[1]'), schemas)).toMatchObject({
      reason: 'InvalidEnvelope',
      description: 'the structured body must be a JSON object, got an array',
    });
  });

  it('rejects a MessageId that differs from the event id', () => {
    expect(parseCloudEvent(structured(envelopeJson(), 'other'), schemas)).toEqual({
      ok: false,
      reason: 'InvalidEnvelope',
      description: 'MessageId "other" does not equal the event id "evt-1"',
    });
  });

  it('rejects an unknown type', () => {
    expect(parseCloudEvent(structured(envelopeJson({ type: 'com.example.nope' })), schemas)).toEqual({
      ok: false,
      reason: 'UnknownType',
      description: 'no handler is registered for event type "com.example.nope"',
    });
  });

  it('names the data field path that failed', () => {
    const result = parseCloudEvent(
      structured(envelopeJson({ data: { ...(event.data as object), version: 0 } })),
      schemas,
    );
    expect(result).toEqual({
      ok: false,
      reason: 'ValidationFailed',
      description: 'data.version: expected a version >= 1',
    });
  });

  it('takes traceparent from the envelope, else from the application properties', () => {
    const inBody = parseCloudEvent(structured(envelopeJson({ traceparent })), schemas);
    expect(inBody.ok && inBody.event.traceparent).toBe(traceparent);
    const fromProps = parseCloudEvent(
      { ...structured(envelopeJson()), applicationProperties: { 'Diagnostic-Id': traceparent } },
      schemas,
    );
    expect(fromProps.ok && fromProps.event.traceparent).toBe(traceparent);
  });

  it('ignores a malformed traceparent instead of rejecting the event', () => {
    const result = parseCloudEvent(structured(envelopeJson({ traceparent: 'garbage' })), schemas);
    expect(result.ok && result.event.traceparent).toBeUndefined();
  });
});

describe('parseCloudEvent, binary mode', () => {
  it('reads attributes from cloudEvents: application properties and data from the body', () => {
    const time = new Date('2025-03-01T10:15:00Z');
    const result = parseCloudEvent(
      binary({ 'cloudEvents:time': time }, Buffer.from(JSON.stringify(event.data))),
      schemas,
    );
    expect(result).toEqual({
      ok: true,
      mode: 'binary',
      event: {
        specversion: '1.0',
        id: 'evt-1',
        source: '/s',
        type: event.type,
        time: '2025-03-01T10:15:00.000Z',
        datacontenttype: 'application/json',
        data: event.data,
      },
    });
  });

  it('refuses a cloudEvents:time that is an epoch number or an invalid Date, naming the property', () => {
    for (const time of [Date.parse('2025-03-01T10:15:00Z'), new Date(Number.NaN)]) {
      expect(parseCloudEvent(binary({ 'cloudEvents:time': time }, event.data), schemas)).toMatchObject({
        ok: false,
        reason: 'InvalidEnvelope',
        description: expect.stringMatching(/^application property "cloudEvents:time": expected an RFC 3339/),
      });
    }
  });

  it('reads an epoch number as the timestamp it was when the SDK converted it (receiveDeferredMessages)', () => {
    const at = Date.parse('2025-03-01T10:15:00Z');
    const parsed = parseCloudEvent(binary({ 'cloudEvents:time': at }, event.data), schemas, {
      timestampsAsEpochMs: true,
    });
    expect(parsed).toMatchObject({ ok: true, event: { time: '2025-03-01T10:15:00.000Z' } });
  });

  it('accepts extension attributes of every AMQP type the binding maps', () => {
    const extensions = {
      'cloudEvents:flag': false,
      'cloudEvents:count': -3,
      'cloudEvents:blob': Buffer.from([1, 2]),
      'cloudEvents:when': new Date(0),
      'cloudEvents:note': 'x',
    };
    expect(parseCloudEvent(binary(extensions, event.data), schemas).ok).toBe(true);
  });

  it('refuses an id, type or source longer than its dbo.Inbox column', () => {
    const long = { 'cloudEvents:source': `/${'s'.repeat(1024)}` };
    expect(parseCloudEvent(binary(long, event.data), schemas)).toEqual({
      ok: false,
      reason: 'InvalidEnvelope',
      description:
        'application property "cloudEvents:source": expected at most 1024 UTF-16 code units (NVARCHAR(1024))',
    });
  });

  it('accepts the cloudEvents_ prefix of earlier binding revisions', () => {
    const msg = binary({}, event.data);
    msg.applicationProperties = Object.fromEntries(
      Object.entries(msg.applicationProperties ?? {}).map(([k, v]) => [k.replace(':', '_'), v]),
    );
    expect(parseCloudEvent(msg, schemas).ok).toBe(true);
  });

  it('names the application property that is missing', () => {
    expect(parseCloudEvent(binary({ 'cloudEvents:type': undefined }, event.data), schemas)).toEqual({
      ok: false,
      reason: 'InvalidEnvelope',
      description: 'application property "cloudEvents:type": is missing',
    });
  });

  it('dead-letters a JSON content type whose body is not JSON', () => {
    expect(parseCloudEvent(binary({}, Buffer.from('not json')), schemas)).toMatchObject({
      ok: false,
      reason: 'InvalidJson',
    });
  });

  it('says why a message with neither mode is not a CloudEvent', () => {
    const result = parseCloudEvent({ messageId: 'x', contentType: 'text/plain', body: 'hi' }, schemas);
    expect(result).toMatchObject({ ok: false, reason: 'InvalidEnvelope' });
    expect(result.ok || result.description).toContain('no cloudEvents:* application properties');
  });

  it('rejects a missing MessageId', () => {
    expect(parseCloudEvent({ ...binary({}, event.data), messageId: undefined }, schemas)).toMatchObject({
      reason: 'InvalidEnvelope',
      description: 'MessageId is missing; it must equal the event id "evt-1"',
    });
  });
});

describe('toServiceBusMessage', () => {
  it.each(['structured', 'binary'] as const)('round-trips an event in %s mode', (mode) => {
    const message = toServiceBusMessage(event, mode);
    expect(message).toMatchObject({ messageId: 'evt-1', subject: event.type });
    expect(message.applicationProperties).toMatchObject({ traceparent, 'Diagnostic-Id': traceparent });
    const result = parseCloudEvent(message as ReceivedMessageLike, schemas);
    expect(result).toMatchObject({ ok: true, mode, event: { ...event } });
  });

  it('sets the cloudEvents: attributes and the data content type in binary mode', () => {
    const message = toServiceBusMessage(event, 'binary');
    expect(message.contentType).toBe('application/json');
    expect(message.applicationProperties).toMatchObject({
      'cloudEvents:specversion': '1.0',
      'cloudEvents:id': 'evt-1',
      'cloudEvents:source': '/orders/api',
      'cloudEvents:type': event.type,
      'cloudEvents:time': event.time,
      'cloudEvents:traceparent': traceparent,
    });
  });
});
