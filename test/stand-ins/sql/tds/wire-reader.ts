/** Thrown when a client message is shorter or otherwise other than the grammar says: the connection is dropped. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** A cursor over one TDS message payload, little-endian unless a method says otherwise. */
export class WireReader {
  readonly buffer: Buffer;
  offset: number;

  constructor(buffer: Buffer, offset = 0) {
    this.buffer = buffer;
    this.offset = offset;
  }

  get remaining(): number {
    return this.buffer.length - this.offset;
  }

  private need(n: number): void {
    if (this.offset + n > this.buffer.length) {
      throw new ProtocolError(
        `message ends early: need ${n} bytes at ${this.offset} of ${this.buffer.length}`,
      );
    }
  }

  u8(): number {
    this.need(1);
    return this.buffer.readUInt8(this.offset++);
  }

  u16(): number {
    this.need(2);
    const v = this.buffer.readUInt16LE(this.offset);
    this.offset += 2;
    return v;
  }

  i16(): number {
    this.need(2);
    const v = this.buffer.readInt16LE(this.offset);
    this.offset += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buffer.readUInt32LE(this.offset);
    this.offset += 4;
    return v;
  }

  i32(): number {
    this.need(4);
    const v = this.buffer.readInt32LE(this.offset);
    this.offset += 4;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.buffer.readBigUInt64LE(this.offset);
    this.offset += 8;
    return v;
  }

  /** Unsigned little-endian integer of 1 to 6 bytes (TDS time fields are 3 to 5). */
  uintN(n: number): number {
    this.need(n);
    const v = this.buffer.readUIntLE(this.offset, n);
    this.offset += n;
    return v;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buffer.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  ucs2(chars: number): string {
    return this.bytes(chars * 2).toString('utf16le');
  }

  /** B_VARCHAR: a one-byte character count, then UCS-2. */
  bVarChar(): string {
    return this.ucs2(this.u8());
  }

  /** US_VARCHAR: a two-byte character count, then UCS-2. */
  usVarChar(): string {
    return this.ucs2(this.u16());
  }

  rest(): Buffer {
    return this.bytes(this.remaining);
  }
}
