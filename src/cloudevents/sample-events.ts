import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { CloudEvent } from './cloud-event.ts';
import { type ContentMode, type PublishItem, toServiceBusMessage } from './envelope.ts';

/** Ways a generated message is broken on purpose, each ending as its own dead-letter reason. */
export type InvalidKind =
  | 'InvalidJson'
  | 'InvalidEnvelope:missing-source'
  | 'InvalidEnvelope:id-mismatch'
  | 'UnknownType'
  | 'ValidationFailed'
  | 'ValidationFailed:beyond-column';

export const invalidKinds: readonly InvalidKind[] = [
  'InvalidJson',
  'InvalidEnvelope:missing-source',
  'InvalidEnvelope:id-mismatch',
  'UnknownType',
  'ValidationFailed',
  'ValidationFailed:beyond-column',
];

/** The dead-letter reason the consumer gives a message broken as `kind`. */
export const expectedReason = (kind: InvalidKind): string => kind.split(':')[0] ?? kind;

/** A new event with a fresh id. */
export function sampleEvent(type: string, data: unknown, source = '/keyless-worker/publish'): CloudEvent {
  return { specversion: '1.0', id: randomUUID(), source, type, time: new Date().toISOString(), data };
}

/**
 * Data the schema refuses, made from valid `data` of any event type: for `beyond-column` a text
 * field far longer than a bounded column takes, else fields missing. The first candidate the
 * schema refuses wins (without a schema, the first), so the kind does not depend on the domain.
 */
function refusedData(
  data: unknown,
  kind: 'ValidationFailed' | 'ValidationFailed:beyond-column',
  schema?: z.ZodType,
) {
  const record = typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
  const tooLong = Object.entries(record)
    .filter(([, v]) => typeof v === 'string')
    .map(([k]) => ({ ...record, [k]: 'x'.repeat(5_000) }));
  const candidates = kind === 'ValidationFailed' ? [{}, null] : [...tooLong, {}];
  return candidates.find((c) => schema?.safeParse(c).success === false) ?? candidates[0];
}

/** A message that carries `event` broken as `kind`; its MessageId is still the event id. */
export function brokenMessage(
  event: CloudEvent,
  kind: InvalidKind,
  mode: ContentMode = 'structured',
  schema?: z.ZodType,
): PublishItem {
  switch (kind) {
    case 'InvalidJson': {
      const message = toServiceBusMessage(event, mode);
      return { raw: { ...message, body: Buffer.from('{"specversion": "1.0", "id": ') } };
    }
    case 'InvalidEnvelope:missing-source': {
      const message = toServiceBusMessage({ ...event, source: '' }, mode);
      return { raw: message };
    }
    case 'InvalidEnvelope:id-mismatch':
      return { raw: { ...toServiceBusMessage(event, mode), messageId: `${event.id}-other` } };
    case 'UnknownType':
      return { ...event, type: `${event.type}.unknown` };
    case 'ValidationFailed':
    case 'ValidationFailed:beyond-column':
      // A value the column would cut is refused, never stored altered.
      return { ...event, data: refusedData(event.data, kind, schema) };
  }
}

export type GenerateOptions = {
  count: number;
  /** Event types, used in turn. */
  types: readonly string[];
  /** Valid data for a type and a running number. */
  dataFor: (type: string, n: number) => unknown;
  /** Each type's data schema, to break valid data in a way it refuses. @defaultValue none */
  schemas?: ReadonlyMap<string, z.ZodType>;
  /** Share of messages broken on purpose, spread evenly, kinds in turn. @defaultValue 0 */
  invalidShare?: number;
  /** @defaultValue 'structured' */
  mode?: ContentMode;
  /** Told the kind of each broken message, e.g. to know what to expect. @defaultValue none */
  onInvalid?: (messageId: string, kind: InvalidKind) => void;
};

/** Generates events lazily; exactly round(count × invalidShare) of them are broken, of mixed kinds. */
export function* generatePublishItems(options: GenerateOptions): Generator<PublishItem> {
  const share = options.invalidShare ?? 0;
  let broken = 0;
  for (let n = 0; n < options.count; n++) {
    const type = options.types[n % options.types.length] ?? '';
    const event = sampleEvent(type, options.dataFor(type, n));
    // Spreads broken messages evenly instead of bunching them at the start or end.
    const isBroken = Math.floor((n + 1) * share) > Math.floor(n * share);
    if (!isBroken) {
      yield event;
      continue;
    }
    const kind = invalidKinds[broken % invalidKinds.length] ?? 'InvalidJson';
    broken++;
    options.onInvalid?.(event.id, kind);
    yield brokenMessage(event, kind, options.mode, options.schemas?.get(type));
  }
}
