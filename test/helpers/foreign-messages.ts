import type { ServiceBusMessage } from '@azure/service-bus';

/*
 * Messages as a publisher that does not use this project builds them for raw `sendMessages`: no
 * toServiceBusMessage, properties of whatever AMQP type the publisher's library picks.
 */

/** Structured mode with a plain object body, which the SDK serialises as JSON. */
export const foreignStructured = (id: string, type: string, data: unknown): ServiceBusMessage => ({
  messageId: id,
  contentType: 'application/cloudevents+json',
  body: { specversion: '1.0', id, source: '/foreign', type, data },
});

/** Binary mode: the required attributes as strings, plus `properties` of any AMQP type. */
export const foreignBinary = (
  id: string,
  type: string,
  data: unknown,
  properties: Record<string, unknown> = {},
): ServiceBusMessage => ({
  messageId: id,
  contentType: 'application/json',
  body: Buffer.from(JSON.stringify(data)),
  applicationProperties: {
    'cloudEvents:specversion': '1.0',
    'cloudEvents:id': id,
    'cloudEvents:source': '/foreign',
    'cloudEvents:type': type,
    ...properties,
  } as ServiceBusMessage['applicationProperties'],
});
