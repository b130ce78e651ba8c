import { WireWriter } from './wire-writer.ts';

/** Token types the stand-in sends (MS-TDS 2.2.7). */
export const Token = {
  returnStatus: 0x79,
  colMetadata: 0x81,
  error: 0xaa,
  info: 0xab,
  loginAck: 0xad,
  featureExtAck: 0xae,
  row: 0xd1,
  envChange: 0xe3,
  fedAuthInfo: 0xee,
  done: 0xfd,
  doneProc: 0xfe,
  doneInProc: 0xff,
} as const;

export const EnvChange = {
  database: 1,
  language: 2,
  packetSize: 4,
  collation: 7,
  beginTransaction: 8,
  commitTransaction: 9,
  rollbackTransaction: 10,
  resetConnection: 18,
} as const;

export const DoneStatus = {
  final: 0x00,
  more: 0x01,
  error: 0x02,
  inTransaction: 0x04,
  count: 0x10,
  attention: 0x20,
  serverError: 0x100,
} as const;

/** CurCmd values SQL Server puts in DONE tokens. */
export const DoneCommand = {
  none: 0x00,
  select: 0xc1,
  insert: 0xc3,
  delete: 0xc4,
  update: 0xc5,
  beginTran: 0xd4,
  commitTran: 0xd5,
  rollbackTran: 0xd2,
  setOption: 0xb9,
} as const;

/** SQL_Latin1_General_CP1_CI_AS, the Azure SQL default: LCID 0x0409, CI/AI flags, sort id 52. */
export const DEFAULT_COLLATION = Buffer.from([0x09, 0x04, 0xd0, 0x00, 0x34]);

export function envChangeText(w: WireWriter, type: number, newValue: string, oldValue: string): void {
  const body = new WireWriter().u8(type).bVarChar(newValue).bVarChar(oldValue).toBuffer();
  w.u8(Token.envChange).u16(body.length).bytes(body);
}

export function envChangeBytes(w: WireWriter, type: number, newValue: Buffer, oldValue: Buffer): void {
  const body = new WireWriter().u8(type).bVarByte(newValue).bVarByte(oldValue).toBuffer();
  w.u8(Token.envChange).u16(body.length).bytes(body);
}

export type Message = {
  number: number;
  state: number;
  severity: number;
  message: string;
  serverName: string;
  procName?: string;
  lineNumber?: number;
};

function message(w: WireWriter, token: number, m: Message): void {
  const body = new WireWriter()
    .u32(m.number)
    .u8(m.state)
    .u8(m.severity)
    .usVarChar(m.message)
    .bVarChar(m.serverName)
    .bVarChar(m.procName ?? '')
    .u32(m.lineNumber ?? 1)
    .toBuffer();
  w.u8(token).u16(body.length).bytes(body);
}

export const errorToken = (w: WireWriter, m: Message): void => message(w, Token.error, m);
export const infoToken = (w: WireWriter, m: Message): void => message(w, Token.info, m);

/** LOGINACK for TDS 7.4 (0x74000004) from "Microsoft SQL Server" 12.0.2000.8, as Azure SQL answers. */
export function loginAck(w: WireWriter): void {
  const body = new WireWriter()
    .u8(1)
    .u32be(0x74000004)
    .bVarChar('Microsoft SQL Server')
    .bytes(Buffer.from([12, 0, 0x07, 0xd0]))
    .toBuffer();
  w.u8(Token.loginAck).u16(body.length).bytes(body);
}

export function featureExtAck(w: WireWriter, features: ReadonlyArray<[id: number, data: Buffer]>): void {
  w.u8(Token.featureExtAck);
  for (const [id, data] of features) w.u8(id).u32(data.length).bytes(data);
  w.u8(0xff);
}

/** FEDAUTHINFO (MS-TDS 2.2.7.12): where to get a token (STSURL) and for which resource (SPN). */
export function fedAuthInfo(w: WireWriter, stsUrl: string, spn: string): void {
  const sts = Buffer.from(stsUrl, 'utf16le');
  const spnBytes = Buffer.from(spn, 'utf16le');
  const headerLength = 4 + 2 * 9;
  const body = new WireWriter()
    .u32(2)
    .u8(0x01)
    .u32(sts.length)
    .u32(headerLength)
    .u8(0x02)
    .u32(spnBytes.length)
    .u32(headerLength + sts.length)
    .bytes(sts)
    .bytes(spnBytes)
    .toBuffer();
  w.u8(Token.fedAuthInfo).u32(body.length).bytes(body);
}

function doneLike(w: WireWriter, token: number, status: number, command: number, rowCount: number): void {
  w.u8(token).u16(status).u16(command).u64(BigInt(rowCount));
}

export const done = (w: WireWriter, status: number, command = 0, rowCount = 0): void =>
  doneLike(w, Token.done, status, command, rowCount);
export const doneInProc = (w: WireWriter, status: number, command = 0, rowCount = 0): void =>
  doneLike(w, Token.doneInProc, status, command, rowCount);
export const doneProc = (w: WireWriter, status: number, command = 0, rowCount = 0): void =>
  doneLike(w, Token.doneProc, status, command, rowCount);

export function returnStatus(w: WireWriter, value: number): void {
  w.u8(Token.returnStatus).i32(value);
}
