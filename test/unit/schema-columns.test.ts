import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { orderHandlers } from '../../src/handlers/orders/handlers.ts';
import { orderPlacedType, orderStatusChangedType } from '../../src/handlers/orders/schema.ts';
import { toEventSchemas } from '../../src/handlers/registry.ts';
import type { CloudEvent } from '../../src/pipeline/cloud-event.ts';
import { parseCloudEvent, toServiceBusMessage } from '../../src/servicebus/envelope.ts';
import { type ColumnType, formatType, migrationColumns, openJsonColumns } from '../helpers/sql-columns.ts';

/*
 * Invariant 6: every column the worker writes is bounded by the schema that admits its value. The
 * migrations are parsed, every column is mapped to where its value comes from, and the bound the
 * column type implies is probed through the parser a received message goes through.
 */

type Source =
  | { from: 'data'; type: string; path: string }
  | { from: 'attribute'; name: 'id' | 'type' | 'source' | 'time' }
  | { from: 'order total' }
  | { from: 'not input'; why: string };

const placed = (path: string): Source => ({ from: 'data', type: orderPlacedType, path });
const changed = (path: string): Source => ({ from: 'data', type: orderStatusChangedType, path });
const server = { from: 'not input', why: 'set by SQL Server' } as const;

const sources: Readonly<Record<string, readonly Source[]>> = {
  'dbo.Orders.OrderId': [placed('orderId'), changed('orderId')],
  'dbo.Orders.CustomerId': [placed('customerId')],
  'dbo.Orders.Currency': [placed('currency')],
  'dbo.Orders.PlacedAt': [placed('placedAt')],
  'dbo.Orders.Total': [{ from: 'order total' }],
  'dbo.Orders.Status': [changed('status')],
  'dbo.Orders.StatusVersion': [changed('version')],
  'dbo.Orders.CreatedAt': [server],
  'dbo.Orders.UpdatedAt': [server],
  'dbo.OrderLines.OrderId': [placed('orderId')],
  // 2^31 lines would not fit a Service Bus message (100 MB at most).
  'dbo.OrderLines.LineNumber': [{ from: 'not input', why: 'the line index, bounded by the message size' }],
  'dbo.OrderLines.Sku': [placed('lines[].sku')],
  'dbo.OrderLines.Quantity': [placed('lines[].quantity')],
  'dbo.OrderLines.UnitPrice': [placed('lines[].unitPrice')],
  'dbo.Inbox.MessageId': [{ from: 'attribute', name: 'id' }],
  'dbo.Inbox.Type': [{ from: 'attribute', name: 'type' }],
  'dbo.Inbox.Source': [{ from: 'attribute', name: 'source' }],
  'dbo.Inbox.EventTime': [{ from: 'attribute', name: 'time' }],
  'dbo.Inbox.ReceivedAt': [server],
  'dbo.Inbox.ProcessedAt': [server],
  // NVARCHAR(MAX) holds 2^30 - 1 units: more than a Service Bus message can carry.
  'dbo.Inbox.Payload': [{ from: 'not input', why: 'the whole event, bounded by the message size' }],
  'dbo.Leases.Name': [{ from: 'not input', why: 'a lease name the worker fixes (inbox-retention)' }],
  // host name (at most 64 on Linux) / pid / 8 hex digits: at most 81 units.
  'dbo.Leases.Holder': [{ from: 'not input', why: 'the replica that holds the lease, at most 81 units' }],
  'dbo.Leases.ExpiresAt': [server],
};

const validData: Readonly<Record<string, Record<string, unknown>>> = {
  [orderPlacedType]: {
    orderId: '3f1c7a52-8c1e-4b8e-9a57-2f4d1f0b9c11',
    customerId: 'cust-42',
    currency: 'EUR',
    placedAt: '2025-03-01T10:15:00+01:00',
    lines: [{ sku: 'SKU-1', quantity: 1, unitPrice: '12.50' }],
  },
  [orderStatusChangedType]: { orderId: '3f1c7a52-8c1e-4b8e-9a57-2f4d1f0b9c11', status: 'paid', version: 1 },
};

const schemas = toEventSchemas(orderHandlers);

/** The description a message gets when its value at `source` is `value`, or 'accepted'. */
function outcome(source: Source, value: unknown): string {
  if (source.from === 'not input') throw new Error('not probed');
  const type = source.from === 'data' ? source.type : orderPlacedType;
  const data = structuredClone(validData[type]) as Record<string, unknown>;
  const event: Record<string, unknown> = { specversion: '1.0', id: 'evt-1', source: '/s', type, data };
  if (source.from === 'attribute') event[source.name] = value;
  else if (source.from === 'order total') data.lines = value;
  else {
    const [head = '', tail] = source.path.split('[].');
    if (tail === undefined) data[head] = value;
    else (data[head] as Record<string, unknown>[])[0] = { ...(data[head] as object[])[0], [tail]: value };
  }
  // A probed type name is registered, so the message gets as far as its length check.
  const registered = new Map(schemas);
  if (source.from === 'attribute' && source.name === 'type') {
    registered.set(String(value), schemas.get(orderPlacedType) as z.ZodType);
  }
  const result = parseCloudEvent(toServiceBusMessage(event as CloudEvent), registered);
  return result.ok ? 'accepted' : `${result.reason}: ${result.description}`;
}

/** The data schema at `path` (`lines[].sku`), to read an enum's options. */
function schemaAt(type: string, path: string): z.ZodType {
  let schema = schemas.get(type) as z.ZodType;
  for (const key of path.replace('[].', '.[].').split('.')) {
    const def = schema._zod.def as { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType };
    schema = (key === '[]' ? def.element : def.shape?.[key]) as z.ZodType;
  }
  return schema;
}

/** Leaf paths of a data schema: every field a publisher sends. */
function leafPaths(schema: z.ZodType, prefix = ''): string[] {
  const def = schema._zod.def as { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType };
  if (def.type === 'object' && def.shape) {
    return Object.entries(def.shape).flatMap(([k, s]) => leafPaths(s, prefix ? `${prefix}.${k}` : k));
  }
  if (def.type === 'array' && def.element) return leafPaths(def.element, `${prefix}[]`);
  return [prefix];
}

const refused = (text: string, limit: string) =>
  expect(text).toMatch(
    new RegExp(`^(ValidationFailed|InvalidEnvelope): .*${limit.replace(/[()]/g, '\\$&')}`),
  );

function checkBound(source: Source, type: ColumnType): void {
  const n = Number(type.args[0]);
  const at = (value: unknown) => outcome(source, value);
  if (source.from === 'order total') {
    const [p = 0, s = 0] = type.args.map(Number);
    const max = `${'9'.repeat(p - s)}.${'9'.repeat(s)}`;
    expect(at([{ sku: 'A', quantity: 1, unitPrice: max }])).toBe('accepted');
    refused(at([{ sku: 'A', quantity: 2, unitPrice: max }]), formatType(type));
    return;
  }
  if (source.from === 'data' && schemaAt(source.type, source.path)._zod.def.type === 'enum') {
    const options = (schemaAt(source.type, source.path) as z.ZodEnum).options as string[];
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

describe('schemas and columns', () => {
  const columns = migrationColumns();

  it('maps every column of the migrations to where its value comes from', () => {
    expect([...columns.keys()].filter((c) => !(c in sources))).toEqual([]);
    expect(Object.keys(sources).filter((c) => !columns.has(c))).toEqual([]);
  });

  it('maps every field of every data schema to a column', () => {
    const mapped = new Set(
      Object.values(sources)
        .flat()
        .flatMap((s) => (s.from === 'data' ? [`${s.type} ${s.path}`] : [])),
    );
    const fields = [...schemas].flatMap(([type, schema]) => leafPaths(schema).map((p) => `${type} ${p}`));
    expect(fields.filter((f) => !mapped.has(f))).toEqual([]);
  });

  it('writes every OPENJSON column with the type of the table column it lands in', () => {
    const mismatched = openJsonColumns()
      .filter((c) => formatType(c.type) !== formatType(columns.get(c.target) ?? { name: 'absent', args: [] }))
      .map((c) => `${c.statement}: ${c.target} ${formatType(c.type)}`);
    expect(mismatched).toEqual([]);
  });

  const probed = Object.entries(sources).flatMap(([column, list]) =>
    list.filter((s) => s.from !== 'not input').map((s) => [column, s] as const),
  );
  it.each(probed)('refuses a value that does not fit %s, naming the limit', (column, source) => {
    checkBound(source, columns.get(column) as ColumnType);
  });
});
