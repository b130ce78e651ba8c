import { ProtocolError } from './wire-reader.ts';

/** TDS packet types (MS-TDS 2.2.3.1.1). */
export const PacketType = {
  sqlBatch: 0x01,
  rpc: 0x03,
  tabularResult: 0x04,
  attention: 0x06,
  bulkLoad: 0x07,
  fedAuthToken: 0x08,
  transactionManager: 0x0e,
  login7: 0x10,
  sspi: 0x11,
  prelogin: 0x12,
} as const;

const HEADER_LENGTH = 8;
const STATUS_EOM = 0x01;
const STATUS_IGNORE = 0x02;
const STATUS_RESET_CONNECTION = 0x08;

/** One client message: the packets of one request joined, headers removed. */
export type TdsMessage = { type: number; resetConnection: boolean; payload: Buffer };

/**
 * Joins the packets of a byte stream into messages. A message the client ends with the IGNORE bit
 * (it gave up part-way through sending) is dropped, as the spec asks.
 */
export class MessageAssembler {
  private pending: Buffer = Buffer.alloc(0);
  private parts: Buffer[] = [];
  private first: { type: number; status: number } | undefined;
  private readonly onMessage: (message: TdsMessage) => void;

  constructor(onMessage: (message: TdsMessage) => void) {
    this.onMessage = onMessage;
  }

  /** Bytes received but not yet part of a whole packet. */
  get buffered(): number {
    return this.pending.length;
  }

  feed(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= HEADER_LENGTH) {
      const length = this.pending.readUInt16BE(2);
      if (length < HEADER_LENGTH) throw new ProtocolError(`packet length ${length} is below the header size`);
      if (this.pending.length < length) return;
      const type = this.pending.readUInt8(0);
      const status = this.pending.readUInt8(1);
      this.parts.push(this.pending.subarray(HEADER_LENGTH, length));
      this.pending = this.pending.subarray(length);
      this.first ??= { type, status };
      if (status & STATUS_EOM) {
        const first = this.first;
        const payload = Buffer.concat(this.parts);
        this.parts = [];
        this.first = undefined;
        if (!(status & STATUS_IGNORE)) {
          this.onMessage({
            type: first.type,
            resetConnection: (first.status & STATUS_RESET_CONNECTION) !== 0,
            payload,
          });
        }
      }
    }
  }
}

/** Splits a server message into packets of at most `packetSize` bytes, the last one marked EOM. */
export function encodePackets(type: number, payload: Buffer, packetSize: number, spid: number): Buffer {
  const room = packetSize - HEADER_LENGTH;
  const count = Math.max(1, Math.ceil(payload.length / room));
  const packets: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const body = payload.subarray(i * room, (i + 1) * room);
    const header = Buffer.alloc(HEADER_LENGTH);
    header.writeUInt8(type, 0);
    header.writeUInt8(i === count - 1 ? STATUS_EOM : 0, 1);
    header.writeUInt16BE(HEADER_LENGTH + body.length, 2);
    header.writeUInt16BE(spid, 4);
    header.writeUInt8((i + 1) % 256, 6);
    packets.push(header, body);
  }
  return Buffer.concat(packets);
}
