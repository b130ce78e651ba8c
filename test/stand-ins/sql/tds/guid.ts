/** UNIQUEIDENTIFIER travels with its first three groups little-endian (the .NET Guid layout). */
const ORDER = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];

export function guidToBytes(guid: string): Buffer {
  const hex = guid.replace(/[{}-]/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new TypeError(`not a GUID: ${guid}`);
  const plain = Buffer.from(hex, 'hex');
  return Buffer.from(ORDER.map((i) => plain[i] ?? 0));
}

/** Upper case, as SQL Server formats GUIDs and tedious returns them by default. */
export function bytesToGuid(bytes: Buffer): string {
  const hex = Buffer.from(ORDER.map((i) => bytes[i] ?? 0))
    .toString('hex')
    .toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
