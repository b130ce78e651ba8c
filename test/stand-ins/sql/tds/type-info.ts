import type { SqlValue } from '../engine-api.ts';
import { fromScaledInteger, readMagnitude } from './decimal.ts';
import { bytesToGuid } from './guid.ts';
import { fromDateTime, fromDayAndTicks, timeLength } from './temporal.ts';
import { ProtocolError, type WireReader } from './wire-reader.ts';

/** A TYPE_INFO as a client sends it in RPC parameters and bulk-load COLMETADATA (MS-TDS 2.2.5.6). */
export type TypeInfo = {
  id: number;
  /** Max length in bytes, or the fixed length of a fixed-size type. */
  length: number;
  precision: number;
  scale: number;
  /** Partially length-prefixed (a MAX type). */
  plp: boolean;
};

const FIXED: Record<number, number> = {
  31: 0, // NULLTYPE
  48: 1, // INT1
  50: 1, // BIT
  52: 2, // INT2
  56: 4, // INT4
  58: 4, // DATETIM4
  59: 4, // FLT4
  60: 8, // MONEY
  61: 8, // DATETIME
  62: 8, // FLT8
  122: 4, // MONEY4
  127: 8, // INT8
};
const BYTE_LENGTH = new Set([0x24, 0x26, 0x68, 0x6a, 0x6c, 0x6d, 0x6e, 0x6f]);
const SCALED_TIME = new Set([0x29, 0x2a, 0x2b]);
const DATE = 0x28;
const SHORT_LENGTH = new Set([0xa5, 0xa7, 0xad, 0xaf, 0xe7, 0xef]);
const WITH_COLLATION = new Set([0xa7, 0xaf, 0xe7, 0xef]);
const TYPE_NAMES: Record<number, string> = {
  34: 'image',
  35: 'text',
  99: 'ntext',
  98: 'sql_variant',
  240: 'CLR UDT',
  241: 'xml',
  243: 'table-valued parameter',
};

export function readTypeInfo(r: WireReader): TypeInfo {
  const id = r.u8();
  const info: TypeInfo = { id, length: 0, precision: 0, scale: 0, plp: false };
  const fixed = FIXED[id];
  if (fixed !== undefined) info.length = fixed;
  else if (BYTE_LENGTH.has(id)) {
    info.length = r.u8();
    if (id === 0x6a || id === 0x6c) {
      info.precision = r.u8();
      info.scale = r.u8();
    }
  } else if (SCALED_TIME.has(id)) info.scale = r.u8();
  else if (id === DATE) info.length = 3;
  else if (SHORT_LENGTH.has(id)) {
    info.length = r.u16();
    info.plp = info.length === 0xffff && (id === 0xa5 || id === 0xa7 || id === 0xe7);
    // The collation only says how varchar bytes are encoded; the stand-in's collation is CP1252.
    if (WITH_COLLATION.has(id)) r.bytes(5);
  } else {
    throw new ProtocolError(
      `the stand-in does not decode ${TYPE_NAMES[id] ?? `type 0x${id.toString(16)}`} values`,
    );
  }
  return info;
}

function readPlp(r: WireReader): Buffer | null {
  const total = r.u64();
  if (total === 0xffffffffffffffffn) return null;
  const chunks: Buffer[] = [];
  for (let size = r.u32(); size !== 0; size = r.u32()) chunks.push(r.bytes(size));
  return Buffer.concat(chunks);
}

/** VARCHAR bytes are CP1252 under the stand-in's collation; latin1 is its subset that matters here. */
const decodeText = (id: number, bytes: Buffer): string =>
  id === 0xe7 || id === 0xef ? bytes.toString('utf16le') : bytes.toString('latin1');

export function readValue(r: WireReader, info: TypeInfo): SqlValue {
  const { id } = info;
  if (SHORT_LENGTH.has(id)) {
    let bytes: Buffer | null;
    if (info.plp) bytes = readPlp(r);
    else {
      const length = r.u16();
      bytes = length === 0xffff ? null : r.bytes(length);
    }
    if (bytes === null) return null;
    return id === 0xa5 || id === 0xad ? Buffer.from(bytes) : decodeText(id, bytes);
  }
  const length = FIXED[id] ?? r.u8();
  if (length === 0) return null;
  const v = r.bytes(length);
  switch (id) {
    case 0x30:
    case 0x34:
    case 0x38:
    case 0x7f:
    case 0x26:
      if (length === 1) return v.readUInt8(0);
      if (length === 2) return v.readInt16LE(0);
      if (length === 4) return v.readInt32LE(0);
      return v.readBigInt64LE(0);
    case 0x32:
    case 0x68:
      return v.readUInt8(0) !== 0;
    case 0x3b:
    case 0x3e:
    case 0x6d:
      return length === 4 ? v.readFloatLE(0) : v.readDoubleLE(0);
    case 0x3c:
    case 0x7a:
    case 0x6e: {
      // MONEY: a 64-bit integer of ten-thousandths, high half first.
      const scaled =
        length === 4
          ? BigInt(v.readInt32LE(0))
          : (BigInt(v.readInt32LE(0)) << 32n) | BigInt(v.readUInt32LE(4));
      return fromScaledInteger(scaled < 0n ? -scaled : scaled, scaled < 0n, 4);
    }
    case 0x6a:
    case 0x6c:
      return fromScaledInteger(readMagnitude(v.subarray(1)), v.readUInt8(0) === 0, info.scale);
    case 0x24:
      return bytesToGuid(v);
    case 0x3a:
    case 0x3d:
    case 0x6f:
      return length === 4
        ? fromDateTime(v.readUInt16LE(0), v.readUInt16LE(2) * 60 * 300)
        : fromDateTime(v.readInt32LE(0), v.readUInt32LE(4));
    case DATE:
      return fromDayAndTicks(v.readUIntLE(0, 3), 0, 0);
    case 0x29:
      return fromDayAndTicks(719_162, v.readUIntLE(0, timeLength(info.scale)), info.scale);
    case 0x2a:
    case 0x2b: {
      const t = timeLength(info.scale);
      // DATETIMEOFFSET stores the UTC instant; its trailing offset only says how to display it.
      return fromDayAndTicks(v.readUIntLE(t, 3), v.readUIntLE(0, t), info.scale);
    }
    default:
      throw new ProtocolError(`no decoder for type 0x${id.toString(16)}`);
  }
}
