import { ProtocolError, WireReader } from './wire-reader.ts';

const FEATURE_FEDAUTH = 0x02;
const FEATURE_UTF8_SUPPORT = 0x0a;
const FEATURE_TERMINATOR = 0xff;
const FEDAUTH_LIBRARY_SECURITYTOKEN = 0x01;
const FEDAUTH_LIBRARY_ADAL = 0x02;

/** What LOGIN7 asks for (MS-TDS 2.2.6.4), as far as the stand-in acts on it. */
export type Login7 = {
  tdsVersion: number;
  packetSize: number;
  hostName: string;
  userName: string;
  password: string;
  appName: string;
  serverName: string;
  libraryName: string;
  language: string;
  database: string;
  /** Federated authentication: ADAL (token sent later in a FEDAUTH_TOKEN message) or a token in LOGIN7. */
  fedAuth:
    | { library: 'adal'; workflow: number; echo: boolean }
    | { library: 'securityToken'; token: string; echo: boolean }
    | undefined;
  utf8Support: boolean;
};

/** Passwords travel nibble-swapped and XORed with 0xA5 (MS-TDS 2.2.6.4), which is not encryption. */
function unscramble(bytes: Buffer): string {
  const out = Buffer.alloc(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const b = (bytes[i] ?? 0) ^ 0xa5;
    out[i] = ((b & 0x0f) << 4) | (b >> 4);
  }
  return out.toString('utf16le');
}

export function parseLogin7(payload: Buffer): Login7 {
  if (payload.length < 94) throw new ProtocolError('LOGIN7 is shorter than its fixed part');
  const tdsVersion = payload.readUInt32LE(4);
  const packetSize = payload.readUInt32LE(8);
  const optionFlags3 = payload.readUInt8(27);
  const field = (at: number): { offset: number; length: number } => ({
    offset: payload.readUInt16LE(at),
    length: payload.readUInt16LE(at + 2),
  });
  const text = (at: number): string => {
    const { offset, length } = field(at);
    return payload.toString('utf16le', offset, offset + length * 2);
  };
  const pw = field(44);
  const login: Login7 = {
    tdsVersion,
    packetSize,
    hostName: text(36),
    userName: text(40),
    password: unscramble(payload.subarray(pw.offset, pw.offset + pw.length * 2)),
    appName: text(48),
    serverName: text(52),
    libraryName: text(60),
    language: text(64),
    database: text(68),
    fedAuth: undefined,
    utf8Support: false,
  };
  const extension = field(56);
  if (optionFlags3 & 0x10 && extension.length === 4) {
    // ibExtension points at a DWORD that holds where the FeatureExt block starts.
    readFeatureExt(new WireReader(payload, payload.readUInt32LE(extension.offset)), login);
  }
  return login;
}

function readFeatureExt(r: WireReader, login: Login7): void {
  while (r.remaining > 0) {
    const id = r.u8();
    if (id === FEATURE_TERMINATOR) return;
    const data = new WireReader(r.bytes(r.u32()));
    if (id === FEATURE_FEDAUTH) {
      const options = data.u8();
      const library = options >> 1;
      const echo = (options & 0x01) === 1;
      if (library === FEDAUTH_LIBRARY_ADAL) login.fedAuth = { library: 'adal', workflow: data.u8(), echo };
      else if (library === FEDAUTH_LIBRARY_SECURITYTOKEN) {
        login.fedAuth = { library: 'securityToken', token: data.bytes(data.u32()).toString('utf16le'), echo };
      }
    } else if (id === FEATURE_UTF8_SUPPORT) {
      login.utf8Support = data.remaining > 0 && (data.u8() & 0x01) === 1;
    }
  }
}

/** FEDAUTH_TOKEN message (MS-TDS 2.2.6.3): DataLen, then TokenLen and the token in UCS-2 (a nonce may follow). */
export function parseFedAuthToken(payload: Buffer): string {
  const r = new WireReader(payload);
  r.u32();
  return r.bytes(r.u32()).toString('utf16le');
}
