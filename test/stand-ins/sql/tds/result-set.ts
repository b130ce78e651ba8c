import type { ColumnMeta, SqlColumnType, SqlValue } from '../engine-api.ts';
import { decimalLength, toScaledInteger, writeMagnitude } from './decimal.ts';
import { guidToBytes } from './guid.ts';
import { timeLength, toDayAndTicks } from './temporal.ts';
import { DEFAULT_COLLATION, Token } from './tokens.ts';
import type { WireWriter } from './wire-writer.ts';

/** TDS type ids for the column types the seam can return (MS-TDS 2.2.5.4). */
const TypeId = {
  intN: 0x26,
  bitN: 0x68,
  floatN: 0x6d,
  decimalN: 0x6a,
  nvarchar: 0xe7,
  varbinary: 0xa5,
  guid: 0x24,
  datetime2: 0x2a,
  datetimeoffset: 0x2b,
} as const;

const FLAG_NULLABLE = 0x0001;
const MAX_LENGTH = 0xffff;
const PLP_NULL = 0xffffffffffffffffn;

function writeTypeInfo(w: WireWriter, type: SqlColumnType): void {
  switch (type.kind) {
    case 'bit':
      w.u8(TypeId.bitN).u8(1);
      return;
    case 'int':
      w.u8(TypeId.intN).u8(4);
      return;
    case 'bigint':
      w.u8(TypeId.intN).u8(8);
      return;
    case 'float':
      w.u8(TypeId.floatN).u8(8);
      return;
    case 'decimal':
      w.u8(TypeId.decimalN)
        .u8(decimalLength(type.precision) + 1)
        .u8(type.precision)
        .u8(type.scale);
      return;
    case 'nvarchar':
      w.u8(TypeId.nvarchar).u16(isMax(type.length, 4000) ? MAX_LENGTH : (type.length ?? 0) * 2);
      w.bytes(DEFAULT_COLLATION);
      return;
    case 'varbinary':
      w.u8(TypeId.varbinary).u16(isMax(type.length, 8000) ? MAX_LENGTH : (type.length ?? 0));
      return;
    case 'uniqueidentifier':
      w.u8(TypeId.guid).u8(16);
      return;
    case 'datetime2':
      w.u8(TypeId.datetime2).u8(type.scale);
      return;
    case 'datetimeoffset':
      w.u8(TypeId.datetimeoffset).u8(type.scale);
      return;
  }
}

const isMax = (length: number | undefined, limit: number): boolean => length === undefined || length > limit;

export function writeColMetadata(w: WireWriter, columns: readonly ColumnMeta[]): void {
  w.u8(Token.colMetadata).u16(columns.length);
  for (const column of columns) {
    w.u32(0).u16(column.nullable ? FLAG_NULLABLE : 0);
    writeTypeInfo(w, column.type);
    w.bVarChar(column.name);
  }
}

export function writeRow(w: WireWriter, columns: readonly ColumnMeta[], row: readonly SqlValue[]): void {
  w.u8(Token.row);
  columns.forEach((column, i) => {
    try {
      writeValue(w, column.type, row[i] ?? null);
    } catch (err: unknown) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new TypeError(
        `column '${column.name}' (${column.type.kind}) cannot carry ${String(row[i])}: ${reason}`,
      );
    }
  });
}

function toNumber(value: SqlValue): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint' || typeof value === 'string') return Number(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  throw new TypeError('not a number');
}

function toDate(value: SqlValue): Date {
  if (value instanceof Date) return value;
  if (typeof value === 'string' || typeof value === 'number') return new Date(value);
  throw new TypeError('not a date');
}

function toText(value: SqlValue): string {
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

function writePlp(w: WireWriter, bytes: Buffer | null): void {
  if (bytes === null) {
    w.u64(PLP_NULL);
    return;
  }
  w.u64(BigInt(bytes.length));
  if (bytes.length > 0) w.u32(bytes.length).bytes(bytes);
  w.u32(0);
}

function writeValue(w: WireWriter, type: SqlColumnType, value: SqlValue): void {
  const isNull = value === null || value === undefined;
  switch (type.kind) {
    case 'nvarchar': {
      const bytes = isNull ? null : Buffer.from(toText(value), 'utf16le');
      if (isMax(type.length, 4000)) writePlp(w, bytes);
      else if (bytes === null) w.u16(0xffff);
      else w.u16(bytes.length).bytes(bytes);
      return;
    }
    case 'varbinary': {
      const bytes = isNull ? null : Buffer.isBuffer(value) ? value : Buffer.from(toText(value));
      if (isMax(type.length, 8000)) writePlp(w, bytes);
      else if (bytes === null) w.u16(0xffff);
      else w.u16(bytes.length).bytes(bytes);
      return;
    }
    default:
      break;
  }
  if (isNull) {
    w.u8(0);
    return;
  }
  switch (type.kind) {
    case 'bit':
      w.u8(1).u8(value === true || (typeof value !== 'boolean' && toNumber(value) !== 0) ? 1 : 0);
      return;
    case 'int':
      w.u8(4).i32(toNumber(value));
      return;
    case 'bigint':
      w.u8(8).i64(
        typeof value === 'bigint'
          ? value
          : BigInt(typeof value === 'number' ? Math.trunc(value) : toText(value)),
      );
      return;
    case 'float':
      w.u8(8).f64(toNumber(value));
      return;
    case 'decimal': {
      const length = decimalLength(type.precision);
      const scaled = toScaledInteger(
        typeof value === 'boolean' ? Number(value) : (value as string | number | bigint),
        type.scale,
      );
      w.u8(length + 1)
        .u8(scaled < 0n ? 0 : 1)
        .bytes(writeMagnitude(scaled, length));
      return;
    }
    case 'uniqueidentifier':
      w.u8(16).bytes(guidToBytes(toText(value)));
      return;
    case 'datetime2':
    case 'datetimeoffset': {
      const { days, ticks } = toDayAndTicks(toDate(value), type.scale);
      const timeBytes = timeLength(type.scale);
      const offsetBytes = type.kind === 'datetimeoffset' ? 2 : 0;
      w.u8(timeBytes + 3 + offsetBytes)
        .uintN(ticks, timeBytes)
        .uintN(days, 3);
      // The instant is sent in UTC with a zero offset: SqlValue dates carry no zone.
      if (offsetBytes) w.i16(0);
      return;
    }
  }
}
