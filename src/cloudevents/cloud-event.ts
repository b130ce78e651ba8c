/**
 * A validated CloudEvents 1.0 event, as the pipeline hands it to a handler. The Service Bus
 * MessageId is the event `id` (publishers set it), so Service Bus duplicate detection and the
 * SQL inbox both key on it.
 */
export type CloudEvent<T = unknown> = {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  time?: string;
  subject?: string;
  datacontenttype?: string;
  dataschema?: string;
  /** W3C trace context of the publisher, when it sent one. */
  traceparent?: string;
  data: T;
};
