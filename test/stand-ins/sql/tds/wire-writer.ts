/** Builds a TDS token stream in little-endian order; `toBuffer()` joins the pieces once. */
export class WireWriter {
  private readonly parts: Buffer[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  bytes(b: Buffer): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }

  private fixed(n: number, write: (b: Buffer) => void): this {
    const b = Buffer.alloc(n);
    write(b);
    return this.bytes(b);
  }

  u8(v: number): this {
    return this.fixed(1, (b) => b.writeUInt8(v));
  }

  u16(v: number): this {
    return this.fixed(2, (b) => b.writeUInt16LE(v));
  }

  i16(v: number): this {
    return this.fixed(2, (b) => b.writeInt16LE(v));
  }

  u32(v: number): this {
    return this.fixed(4, (b) => b.writeUInt32LE(v));
  }

  i32(v: number): this {
    return this.fixed(4, (b) => b.writeInt32LE(v));
  }

  u32be(v: number): this {
    return this.fixed(4, (b) => b.writeUInt32BE(v));
  }

  u64(v: bigint): this {
    return this.fixed(8, (b) => b.writeBigUInt64LE(v));
  }

  i64(v: bigint): this {
    return this.fixed(8, (b) => b.writeBigInt64LE(v));
  }

  f64(v: number): this {
    return this.fixed(8, (b) => b.writeDoubleLE(v));
  }

  uintN(v: number, n: number): this {
    return this.fixed(n, (b) => b.writeUIntLE(v, 0, n));
  }

  ucs2(s: string): this {
    return this.bytes(Buffer.from(s, 'utf16le'));
  }

  /** B_VARCHAR: a one-byte character count, then UCS-2. */
  bVarChar(s: string): this {
    return this.u8(s.length).ucs2(s);
  }

  /** US_VARCHAR: a two-byte character count, then UCS-2. */
  usVarChar(s: string): this {
    return this.u16(s.length).ucs2(s);
  }

  /** B_VARBYTE: a one-byte length, then the bytes. */
  bVarByte(b: Buffer): this {
    return this.u8(b.length).bytes(b);
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}
