import type { ColumnMeta, ResultSet, SqlColumnType, SqlValue } from '../engine-api.ts';
import type { Catalog } from './catalog.ts';

/** PostgreSQL type OIDs the engine can return. */
const OID = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
} as const;

const scaleOf = (v: unknown): number => {
  if (typeof v !== 'string') return 0;
  const dot = v.indexOf('.');
  return dot < 0 ? 0 : v.length - dot - 1;
};

/**
 * PostgreSQL's row description carries no type modifiers through PGlite's query API, so precision,
 * scale and length are taken from the values: DECIMAL is announced as (38, the scale its values
 * have) and strings as NVARCHAR(4000), or MAX when a value is longer or the type is unbounded.
 */
const columnType = (oid: number, values: unknown[]): SqlColumnType => {
  switch (oid) {
    case OID.bool:
      return { kind: 'bit' };
    case OID.int2:
    case OID.int4:
    case OID.oid:
      return { kind: 'int' };
    case OID.int8:
      return { kind: 'bigint' };
    case OID.float4:
    case OID.float8:
      return { kind: 'float' };
    case OID.numeric:
      return { kind: 'decimal', precision: 38, scale: Math.max(0, ...values.map(scaleOf)) };
    case OID.uuid:
      return { kind: 'uniqueidentifier' };
    case OID.timestamp:
    case OID.date:
      return { kind: 'datetime2', scale: 7 };
    case OID.timestamptz:
      return { kind: 'datetimeoffset', scale: 7 };
    case OID.bytea:
      return { kind: 'varbinary' };
    case OID.varchar:
    case OID.bpchar: {
      const long = values.some((v) => typeof v === 'string' && v.length > 4000);
      return long ? { kind: 'nvarchar' } : { kind: 'nvarchar', length: 4000 };
    }
    default:
      return { kind: 'nvarchar' };
  }
};

const toValue = (oid: number, v: unknown): SqlValue => {
  if (v === null || v === undefined) return null;
  if (oid === OID.uuid) return String(v).toUpperCase();
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (oid === OID.json || oid === OID.jsonb) return typeof v === 'string' ? v : JSON.stringify(v);
  if (
    typeof v === 'boolean' ||
    typeof v === 'number' ||
    typeof v === 'bigint' ||
    typeof v === 'string' ||
    v instanceof Date
  )
    return v;
  return String(v);
};

/** Column names as SQL Server reports them: as spelled in the statement, else as declared. */
export const toResultSet = (
  fields: readonly { name: string; dataTypeID: number }[],
  rows: readonly unknown[][],
  names: Map<string, string>,
  catalog: Catalog,
): ResultSet => {
  const columns: ColumnMeta[] = fields.map((f, i) => ({
    // A name neither the statement nor a table declares is PostgreSQL's invention (`?column?`,
    // `count`): SQL Server leaves such columns unnamed.
    name: names.get(f.name) ?? catalog.names.get(f.name) ?? '',
    type: columnType(
      f.dataTypeID,
      rows.map((r) => r[i]),
    ),
    nullable: true,
  }));
  return { columns, rows: rows.map((r) => r.map((v, i) => toValue(fields[i]?.dataTypeID ?? 0, v))) };
};

/** A FIFO mutex: PGlite is one PostgreSQL session, so SQL Server sessions take turns on it. */
export const createMutex = (): { acquire(): Promise<() => void> } => {
  let tail: Promise<void> = Promise.resolve();
  return {
    acquire() {
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      const ready = tail.then(() => release);
      tail = tail.then(() => held);
      return ready;
    },
  };
};
