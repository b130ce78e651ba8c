import type { IsolationLevel } from '../engine-api.ts';
import { skipAllHeaders } from './rpc-request.ts';
import { ProtocolError, WireReader } from './wire-reader.ts';

/** A transaction manager request (packet 0x0E, MS-TDS 2.2.6.9). */
export type TransactionRequest =
  | { kind: 'begin'; isolation: IsolationLevel | undefined; name: string }
  | { kind: 'commit' | 'rollback'; name: string; beginNew: boolean }
  | { kind: 'save'; name: string };

const ISOLATION: Record<number, IsolationLevel | undefined> = {
  0: undefined,
  1: 'read uncommitted',
  2: 'read committed',
  3: 'repeatable read',
  4: 'serializable',
  5: 'snapshot',
};

/** tedious writes the name's length in bytes (the UCS-2 length), so that is how it is read. */
const readName = (r: WireReader): string => (r.remaining > 0 ? r.bytes(r.u8()).toString('utf16le') : '');

export function parseTransactionRequest(payload: Buffer): TransactionRequest {
  const r = new WireReader(payload);
  skipAllHeaders(r);
  const type = r.u16();
  switch (type) {
    case 5: {
      const level = r.u8();
      return { kind: 'begin', isolation: ISOLATION[level], name: readName(r) };
    }
    case 7:
    case 8: {
      const name = readName(r);
      const flags = r.remaining > 0 ? r.u8() : 0;
      return { kind: type === 7 ? 'commit' : 'rollback', name, beginNew: (flags & 0x01) !== 0 };
    }
    case 9:
      return { kind: 'save', name: readName(r) };
    default:
      throw new ProtocolError(
        `transaction manager request ${type} is not supported (distributed transactions)`,
      );
  }
}
