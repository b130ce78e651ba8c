import type { SqlParam, SqlValue } from '../engine-api.ts';
import { readTypeInfo, readValue, type TypeInfo } from './type-info.ts';
import { ProtocolError, WireReader } from './wire-reader.ts';

/** Well-known procedure ids a client may send instead of a name (MS-TDS 2.2.6.6). */
export const ProcId = { executeSql: 10, prepare: 11, execute: 12, unprepare: 15 } as const;

export type RpcParam = { name: string; output: boolean; type: TypeInfo; value: SqlValue };
export type RpcRequest = { procedure: number | string; params: RpcParam[] };

/** Skips ALL_HEADERS (its first DWORD is its own total length). */
export function skipAllHeaders(r: WireReader): void {
  const total = r.u32();
  if (total < 4 || total - 4 > r.remaining)
    throw new ProtocolError(`ALL_HEADERS length ${total} is out of range`);
  r.bytes(total - 4);
}

export function parseRpcRequest(payload: Buffer): RpcRequest {
  const r = new WireReader(payload);
  skipAllHeaders(r);
  const nameLength = r.u16();
  const procedure = nameLength === 0xffff ? r.u16() : r.ucs2(nameLength);
  r.u16(); // option flags: recompile / no metadata are irrelevant to the stand-in
  const params: RpcParam[] = [];
  while (r.remaining > 0) {
    const next = r.buffer[r.offset];
    // A batch separator would start another RPC in the same message; tedious never sends one.
    if (next === 0x80 || next === 0xff) throw new ProtocolError('batched RPC requests are not supported');
    const name = r.bVarChar();
    const status = r.u8();
    const type = readTypeInfo(r);
    params.push({ name, output: (status & 0x01) !== 0, type, value: readValue(r, type) });
  }
  return { procedure, params };
}

/** Splits `@a int, @b decimal(18, 2) OUTPUT` into name → declared type text. */
export function parseParamDeclarations(declarations: string): Map<string, string> {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < declarations.length; i++) {
    const c = declarations[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(declarations.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(declarations.slice(start));
  const types = new Map<string, string>();
  for (const part of parts) {
    const match = /^\s*(@[\w@#$]+)\s+(.*?)(?:\s+(?:output|out))?\s*$/is.exec(part);
    if (match?.[1] && match[2]) types.set(match[1].toLowerCase(), match[2]);
  }
  return types;
}

/**
 * The statement and parameters of an `sp_executesql` call: `@statement`, `@params`, then the values
 * in the order `@params` declares them (tedious names them all).
 */
export function executeSqlCall(request: RpcRequest): { statement: string; params: SqlParam[] } {
  const [statement, declarations, ...rest] = request.params;
  if (typeof statement?.value !== 'string')
    throw new ProtocolError('sp_executesql needs @statement as NVARCHAR');
  const declared = parseParamDeclarations(typeof declarations?.value === 'string' ? declarations.value : '');
  const names = [...declared.keys()];
  const params = rest.map((p, i): SqlParam => {
    const name = p.name || names[i] || `@${i + 1}`;
    return { name, declaredType: declared.get(name.toLowerCase()) ?? '', value: p.value };
  });
  return { statement: statement.value, params };
}
