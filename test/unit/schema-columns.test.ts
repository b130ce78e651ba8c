import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import type { CloudEvent } from '../../src/cloudevents/cloud-event.ts';
import { parseCloudEvent, toServiceBusMessage } from '../../src/cloudevents/envelope.ts';
import type { Handler } from '../../src/handlers/handler.ts';
import { handlers as shipped } from '../../src/handlers/handlers.ts';
import { createHandlerRegistry, type HandlerRegistry } from '../../src/handlers/registry.ts';
import { inboxMigrations, inboxStatement } from '../../src/inbox/inbox.ts';
import { handlers as invoices } from '../fixtures/invoices/handlers.ts';
import { handlers as parcels } from '../fixtures/parcels/handlers.ts';
import {
  type Column,
  type ColumnType,
  formatType,
  migrationColumns,
  openJsonColumns,
} from '../helpers/sql-columns.ts';

/*
 * Invariant 6: every column the worker writes is bounded by the schema that admits its value. Each
 * handler's migrations are parsed, every column is traced to the data field it comes from (by name,
 * or by the handler's own `columns`), and the bound the column type implies is probed through the
 * parser a received message goes through. Nothing here names a domain: every list is covered alike.
 */

type Source =
  | { from: 'data'; handler: Handler; path: string }
  | { from: 'attribute'; name: 'id' | 'type' | 'source' | 'time' }
  | { from: 'not input'; why: string };

const server = { from: 'not input', why: 'set by SQL Server' } as const;

/** The product's own tables: the inbox rows come from the envelope, the leases from the worker. */
const productSources: Readonly<Record<string, Source>> = {
  'dbo.Inbox.MessageId': { from: 'attribute', name: 'id' },
  'dbo.Inbox.Type': { from: 'attribute', name: 'type' },
  'dbo.Inbox.Source': { from: 'attribute', name: 'source' },
  'dbo.Inbox.EventTime': { from: 'attribute', name: 'time' },
  'dbo.Inbox.ReceivedAt': server,
  'dbo.Inbox.ProcessedAt': server,
  // NVARCHAR(MAX) holds 2^30 - 1 units: more than a Service Bus message can carry.
  'dbo.Inbox.Payload': { from: 'not input', why: 'the whole event, bounded by the message size' },
  'dbo.Leases.Name': { from: 'not input', why: 'a lease name the worker fixes (inbox-retention)' },
  // host name (at most 64 on Linux) / pid / 8 hex digits: at most 81 units.
  'dbo.Leases.Holder': { from: 'not input', why: 'the replica that holds the lease, at most 81 units' },
  'dbo.Leases.ExpiresAt': server,
};

type Def = { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType };
const defOf = (schema: z.ZodType) => schema._zod.def as unknown as Def;

/** Leaf paths of a data schema: every field a publisher sends (`labels[].code`). */
function leafPaths(schema: z.ZodType, prefix = ''): string[] {
  const def = defOf(schema);
  if (def.type === 'object' && def.shape) {
    return Object.entries(def.shape).flatMap(([k, s]) => leafPaths(s, prefix ? `${prefix}.${k}` : k));
  }
  if (def.type === 'array' && def.element) return leafPaths(def.element, `${prefix}[]`);
  return [prefix];
}

/** The data schema at `path`, to read an enum's options. */
function schemaAt(schema: z.ZodType, path: string): z.ZodType {
  let at = schema;
  for (const key of path.replace(/\[\]\./g, '.[].').split('.')) {
    const def = defOf(at);
    at = (key === '[]' ? def.element : def.shape?.[key]) as z.ZodType;
  }
  return at;
}

const lastSegment = (path: string) =>
  path
    .split(/[.[\]]+/)
    .filter(Boolean)
    .at(-1) ?? path;

type Domain = {
  columns: Map<string, Column>;
  sources: Map<string, Source[]>;
  /** `type path` of data fields that land in no column. */
  unmapped: string[];
};

/** Every handler folder's tables, each column with where its value comes from. */
function domainOf(handlers: readonly Handler[]): Domain {
  const columns = new Map<string, Column>();
  const sources = new Map<string, Source[]>();
  const unmapped: string[] = [];
  const add = (column: string, source: Source) =>
    sources.set(column, [...(sources.get(column) ?? []), source]);
  for (const handler of handlers) {
    const own = migrationColumns(new URL('migrations/', handler.dir));
    for (const [name, column] of own) columns.set(name, column);
    const declared = Object.entries(handler.columns ?? {});
    for (const [column, source] of declared) {
      add(
        column,
        'field' in source
          ? { from: 'data', handler, path: source.field }
          : { from: 'not input', why: source.notInput },
      );
    }
    const explicit = new Set(declared.flatMap(([, s]) => ('field' in s ? [s.field] : [])));
    for (const path of leafPaths(handler.schema)) {
      if (explicit.has(path)) continue;
      const named = [...own.keys()].filter(
        (c) => lastSegment(c).toLowerCase() === lastSegment(path).toLowerCase(),
      );
      if (named.length === 0) unmapped.push(`${handler.type} ${path}`);
      for (const column of named) add(column, { from: 'data', handler, path });
    }
  }
  for (const [name, column] of columns) if (!sources.has(name) && column.serverDefault) add(name, server);
  return { columns, sources, unmapped };
}

/** The description a message gets when its value at `source` is `value`, or 'accepted'. */
function outcome(registry: HandlerRegistry, source: Source, value: unknown): string {
  if (source.from === 'not input') throw new Error('not probed');
  const handler = source.from === 'data' ? source.handler : (registry.handlers[0] as Handler);
  const data = structuredClone(handler.example(0)) as Record<string, unknown>;
  const event: Record<string, unknown> = {
    specversion: '1.0',
    id: 'evt-1',
    source: '/s',
    type: handler.type,
    data,
  };
  if (source.from === 'attribute') event[source.name] = value;
  else {
    const [head = '', tail] = source.path.split('[].');
    if (tail === undefined) data[head] = value;
    else (data[head] as Record<string, unknown>[])[0] = { ...(data[head] as object[])[0], [tail]: value };
  }
  // A probed type name is registered, so the message gets as far as its length check.
  const schemas = new Map(registry.schemas);
  if (source.from === 'attribute' && source.name === 'type') schemas.set(String(value), handler.schema);
  const result = parseCloudEvent(toServiceBusMessage(event as CloudEvent), schemas);
  return result.ok ? 'accepted' : `${result.reason}: ${result.description}`;
}

const refused = (text: string, limit: string) =>
  expect(text).toMatch(
    new RegExp(`^(ValidationFailed|InvalidEnvelope): .*${limit.replace(/[()]/g, '\\$&')}`),
  );

function checkBound(registry: HandlerRegistry, source: Source, type: ColumnType): void {
  const n = Number(type.args[0]);
  const at = (value: unknown) => outcome(registry, source, value);
  if (source.from === 'data' && defOf(schemaAt(source.handler.schema, source.path)).type === 'enum') {
    const options = (schemaAt(source.handler.schema, source.path) as z.ZodEnum).options as string[];
    for (const option of options) expect(option.length).toBeLessThanOrEqual(n);
    return;
  }
  switch (type.name) {
    case 'NVARCHAR':
      expect(at('x'.repeat(n))).toBe('accepted');
      refused(at('x'.repeat(n + 1)), `at most ${n} UTF-16 code units`);
      // NVARCHAR counts UTF-16 code units: an emoji takes two.
      expect(at('😀'.repeat(n / 2))).toBe('accepted');
      refused(at(`${'😀'.repeat(n / 2)}x`), `NVARCHAR(${n})`);
      return;
    case 'CHAR':
      expect(at('A'.repeat(n))).toBe('accepted');
      expect(at('A'.repeat(n + 1))).not.toBe('accepted');
      // CHAR stores a code page: a letter outside it would be written as "?".
      expect(at(`Ä${'A'.repeat(n - 1)}`)).not.toBe('accepted');
      return;
    case 'INT':
      expect(at(2147483647)).toBe('accepted');
      refused(at(2147483648), '2147483647 (INT)');
      return;
    case 'DECIMAL': {
      const [p = 0, s = 0] = type.args.map(Number);
      expect(at(`${'9'.repeat(p - s)}.${'9'.repeat(s)}`)).toBe('accepted');
      refused(at('9'.repeat(p - s + 1)), formatType(type));
      // More decimals than the column keeps would be rounded: refused instead.
      refused(at(`1.${'0'.repeat(s)}1`), formatType(type));
      refused(at(Number(`1.${'0'.repeat(s)}1`)), formatType(type));
      return;
    }
    case 'DATETIMEOFFSET':
      expect(at(`2025-01-01T00:00:00.${'1'.repeat(n)}Z`)).toBe('accepted');
      refused(at(`2025-01-01T00:00:00.${'1'.repeat(n + 1)}Z`), `DATETIMEOFFSET(${n})`);
      expect(at('0001-01-01T00:00:00Z')).toBe('accepted');
      expect(at('9999-12-31T23:59:59.9999999Z')).toBe('accepted');
      refused(at('0001-01-01T00:00:00+01:00'), 'DATETIMEOFFSET');
      refused(at('9999-12-31T23:59:59-01:00'), 'DATETIMEOFFSET');
      return;
    case 'UNIQUEIDENTIFIER':
      expect(at('not-a-uuid')).not.toBe('accepted');
      return;
    default:
      throw new Error(`no bound check for column type ${formatType(type)}`);
  }
}

const lists: Record<string, readonly Handler[]> = {
  'the shipped list': shipped,
  'the fixture domain': parcels,
  'the shipped list with an invoice type added': invoices,
};

describe.each(Object.entries(lists))('schemas and columns of %s', (_name, handlers) => {
  const registry = createHandlerRegistry(handlers);
  const domain = domainOf(handlers);
  const product = migrationColumns(inboxMigrations);
  const columns = new Map([...product, ...domain.columns]);
  const sources = new Map<string, Source[]>(domain.sources);
  for (const [column, source] of Object.entries(productSources)) sources.set(column, [source]);

  it('traces every column of the migrations to where its value comes from', () => {
    expect([...columns.keys()].filter((c) => !sources.has(c))).toEqual([]);
    expect([...sources.keys()].filter((c) => !columns.has(c))).toEqual([]);
  });

  it('lands every field of every data schema in a column', () => {
    expect(domain.unmapped).toEqual([]);
  });

  it('writes every OPENJSON column with the type of the table column it lands in', () => {
    const statements = [
      ...registry.handlers.map((h) => ({ dir: h.dir, names: h.statements })),
      { dir: new URL('../../src/inbox/', import.meta.url), names: ['insert-inbox', 'select-inbox-seen'] },
    ];
    // A WITH column takes its table column's name, or reads the field that column is traced to.
    const target = (table: string, column: string, path: string) =>
      columns.has(`${table}.${column}`)
        ? `${table}.${column}`
        : ([...sources].find(
            ([c, list]) =>
              c.startsWith(`${table}.`) &&
              list.some((s) => s.from === 'data' && lastSegment(s.path) === path),
          )?.[0] ?? `${table}.${column}`);
    const mismatched = statements
      .flatMap(({ dir, names }) => openJsonColumns(dir, names))
      .filter((c) => {
        const t = columns.get(target(c.table, c.column, c.path));
        return formatType(c.type) !== formatType(t?.type ?? { name: 'absent', args: [] });
      })
      .map((c) => `${c.statement}: ${c.table}.${c.column} ${formatType(c.type)}`);
    expect(mismatched).toEqual([]);
    expect(inboxStatement('insert-inbox')).toContain('OPENJSON');
  });

  const probed = [...sources].flatMap(([column, list]) =>
    list
      .filter((s) => s.from !== 'not input')
      .map((s) => [column, s.from === 'data' ? s.path : s.name, s] as const),
  );
  it.each(probed)(
    'refuses a value that does not fit %s (from %s), naming the limit',
    (column, _from, source) => {
      checkBound(registry, source, (columns.get(column) as Column).type);
    },
  );
});
