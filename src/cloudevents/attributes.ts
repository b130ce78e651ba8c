import { z } from 'zod';
import { datetimeOffset, nvarchar } from '../sql/column-bounds.ts';

/** NVARCHAR lengths of the dbo.Inbox columns the event's attributes are written to. */
export const inboxColumns = { id: 128, type: 256, source: 1024 } as const;

export const traceparentPattern = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const absoluteUri = /^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$/;

const text = (what: string) => z.string(`expected ${what}`).min(1, `expected ${what}`);
// id, type, source and time are stored in dbo.Inbox: bounded by its columns (invariant 6).
const column = (n: number, what: string) => nvarchar(n, what).min(1, `expected ${what}`);
const time = datetimeOffset(7, 'expected an RFC 3339 timestamp, or an AMQP timestamp in binary mode');

/** The envelope's attributes, as the spec and the inbox's columns bound them. */
export const attributesSchema = z.object({
  specversion: z.literal('1.0', 'expected "1.0"'),
  id: column(inboxColumns.id, 'a non-empty string'),
  source: column(inboxColumns.source, 'a non-empty URI-reference'),
  type: column(inboxColumns.type, 'a non-empty string'),
  time: time.optional(),
  subject: text('a non-empty string').optional(),
  datacontenttype: text('a media type').optional(),
  dataschema: z.string().regex(absoluteUri, 'expected an absolute URI').optional(),
  // A malformed trace context must not cost the message: W3C Trace Context says ignore it.
  traceparent: z.string().regex(traceparentPattern).optional().catch(undefined),
});

export type Attributes = z.output<typeof attributesSchema>;

// NVARCHAR(n) counts UTF-16 code units, as `length` does (src/sql/column-bounds.ts).
const fits = (v: unknown, n: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= n;
const nonEmpty = (v: unknown): boolean => v === undefined || (typeof v === 'string' && v.length > 0);

/**
 * The attributes of a valid envelope, read without building a schema's result: every message pays
 * for this, and almost all are valid. Undefined when anything is off, and only then does the schema
 * run, to say what (the two agree: test/unit/envelope-properties.test.ts).
 */
export function quickAttributes(raw: Record<string, unknown>): Attributes | undefined {
  const { specversion, id, source, type, subject, datacontenttype, dataschema, traceparent } = raw;
  if (specversion !== '1.0' || !fits(id, inboxColumns.id) || !fits(type, inboxColumns.type)) return undefined;
  if (!fits(source, inboxColumns.source) || !nonEmpty(subject) || !nonEmpty(datacontenttype))
    return undefined;
  if (dataschema !== undefined && !(typeof dataschema === 'string' && absoluteUri.test(dataschema)))
    return undefined;
  if (raw.time !== undefined && !time.safeParse(raw.time).success) return undefined;
  const attributes: Attributes = { specversion, id, source, type };
  if (raw.time !== undefined) attributes.time = raw.time as string;
  if (subject !== undefined) attributes.subject = subject as string;
  if (datacontenttype !== undefined) attributes.datacontenttype = datacontenttype as string;
  if (dataschema !== undefined) attributes.dataschema = dataschema;
  if (typeof traceparent === 'string' && traceparentPattern.test(traceparent))
    attributes.traceparent = traceparent;
  return attributes;
}
