import { WireWriter } from './wire-writer.ts';

const OPTION = {
  version: 0x00,
  encryption: 0x01,
  instance: 0x02,
  threadId: 0x03,
  mars: 0x04,
  traceId: 0x05,
  fedAuthRequired: 0x06,
  terminator: 0xff,
} as const;

/** PRELOGIN ENCRYPTION values (MS-TDS 2.2.6.5). */
export const Encryption = { off: 0x00, on: 0x01, notSupported: 0x02, required: 0x03 } as const;

export type PreloginRequest = { encryption: number | undefined; fedAuthRequired: boolean };

export function parsePrelogin(payload: Buffer): PreloginRequest {
  const options = new Map<number, Buffer>();
  let offset = 0;
  while (offset < payload.length && payload[offset] !== OPTION.terminator) {
    const token = payload.readUInt8(offset);
    const at = payload.readUInt16BE(offset + 1);
    const length = payload.readUInt16BE(offset + 3);
    options.set(token, payload.subarray(at, at + length));
    offset += 5;
  }
  const encryption = options.get(OPTION.encryption);
  return {
    encryption: encryption?.length ? encryption.readUInt8(0) : undefined,
    fedAuthRequired: options.has(OPTION.fedAuthRequired),
  };
}

/** The version Azure SQL Database reports (12.0.2000.8). */
const SERVER_VERSION = Buffer.from([12, 0, 0x07, 0xd0, 0x00, 0x08]);

/**
 * The server's PRELOGIN answer. Encryption is ON only when the client asked for it: a client that
 * cannot encrypt (NOT_SUP, OFF) gets a plaintext connection, which the stand-in allows for local runs.
 */
export function encodePreloginResponse(request: PreloginRequest): { payload: Buffer; encrypt: boolean } {
  const encrypt = request.encryption === Encryption.on || request.encryption === Encryption.required;
  const options: Array<[number, Buffer]> = [
    [OPTION.version, SERVER_VERSION],
    [OPTION.encryption, Buffer.from([encrypt ? Encryption.on : Encryption.notSupported])],
    [OPTION.instance, Buffer.from([0])],
    [OPTION.threadId, Buffer.alloc(0)],
    [OPTION.mars, Buffer.from([0])],
  ];
  // Azure SQL requires federated authentication to be echoed in LOGIN7 when the client offers it.
  if (request.fedAuthRequired) options.push([OPTION.fedAuthRequired, Buffer.from([1])]);
  const table = new WireWriter();
  let dataOffset = options.length * 5 + 1;
  for (const [token, data] of options) {
    table.u8(token);
    const be = Buffer.alloc(4);
    be.writeUInt16BE(dataOffset, 0);
    be.writeUInt16BE(data.length, 2);
    table.bytes(be);
    dataOffset += data.length;
  }
  table.u8(OPTION.terminator);
  for (const [, data] of options) table.bytes(data);
  return { payload: table.toBuffer(), encrypt };
}
