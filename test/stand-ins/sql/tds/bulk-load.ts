import type { SqlValue } from '../engine-api.ts';
import { Token } from './tokens.ts';
import { readTypeInfo, readValue, type TypeInfo } from './type-info.ts';
import { ProtocolError, WireReader } from './wire-reader.ts';

/** The target of `insert bulk <table>(<columns>) [with (...)]`, the batch that precedes a bulk load. */
export function parseInsertBulk(sql: string): { table: string } | undefined {
  const match =
    /^\s*insert\s+bulk\s+((?:\[[^\]]+\]|[^\s(.]+)(?:\s*\.\s*(?:\[[^\]]+\]|[^\s(.]+))*)\s*\(/i.exec(sql);
  return match?.[1] ? { table: match[1] } : undefined;
}

/** A bulk load message (packet 0x07): the client's COLMETADATA, ROW tokens and a DONE. */
export function parseBulkLoad(payload: Buffer): { columns: string[]; rows: SqlValue[][] } {
  const r = new WireReader(payload);
  if (r.u8() !== Token.colMetadata) throw new ProtocolError('a bulk load starts with COLMETADATA');
  const count = r.u16();
  const types: TypeInfo[] = [];
  const columns: string[] = [];
  for (let i = 0; i < count; i++) {
    r.u32();
    r.u16();
    const type = readTypeInfo(r);
    types.push(type);
    columns.push(r.bVarChar());
  }
  const rows: SqlValue[][] = [];
  while (r.remaining > 0) {
    const token = r.u8();
    if (token === Token.done) break;
    if (token !== Token.row)
      throw new ProtocolError(`unexpected token 0x${token.toString(16)} in a bulk load`);
    rows.push(types.map((type) => readValue(r, type)));
  }
  return { columns, rows };
}
