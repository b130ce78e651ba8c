import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import type { ServerCertificate } from '../../ca.ts';
import type { SqlServerErrorInfo } from '../engine-api.ts';
import { authenticate, type LoginContext, SQL_RESOURCE } from './authenticate.ts';
import { Inbox } from './inbox.ts';
import { parseFedAuthToken, parseLogin7 } from './login7.ts';
import { encodePackets, MessageAssembler, PacketType, type TdsMessage } from './packets.ts';
import { encodePreloginResponse, parsePrelogin } from './prelogin.ts';
import { type ConnectionState, handleRequest } from './requests.ts';
import { defaultSessionOptions } from './session-options.ts';
import { startTlsInPrelogin } from './tls-in-prelogin.ts';
import { startStrictTls } from './tls-strict.ts';
import {
  DEFAULT_COLLATION,
  DoneStatus,
  done,
  EnvChange,
  envChangeBytes,
  envChangeText,
  errorToken,
  featureExtAck,
  fedAuthInfo,
  infoToken,
  loginAck,
} from './tokens.ts';
import { ProtocolError } from './wire-reader.ts';
import { WireWriter } from './wire-writer.ts';

export type TdsConnectionContext = LoginContext & { certificate: ServerCertificate; spid: number };

const LOGIN_PACKET_SIZE = 4096;
const FEATURE_FEDAUTH = 0x02;
const FEATURE_UTF8_SUPPORT = 0x0a;

const clampPacketSize = (requested: number): number =>
  Math.min(32767, Math.max(512, requested || LOGIN_PACKET_SIZE));

/** Serves one TDS connection from PRELOGIN to close. Resolves when the connection is gone and its session closed. */
export async function serveTdsConnection(socket: Socket, ctx: TdsConnectionContext): Promise<void> {
  const inbox = new Inbox();
  let output: Writable = socket;
  let packetSize = LOGIN_PACKET_SIZE;
  let attention: AbortController | undefined;
  let attentionPending = false;

  const assembler = new MessageAssembler((message) => {
    if (message.type === PacketType.attention) {
      attentionPending = true;
      attention?.abort();
    }
    inbox.push(message);
  });
  const feed = (data: Buffer): void => {
    try {
      assembler.feed(data);
    } catch {
      socket.destroy();
    }
  };
  // A TLS ClientHello (record type 0x16) where PRELOGIN (0x12) belongs means TDS 8.0 strict encryption.
  const firstFeed = (data: Buffer): void => {
    socket.off('data', firstFeed);
    if (data[0] !== 0x16) {
      socket.on('data', feed);
      feed(data);
      return;
    }
    const tls = startStrictTls(socket, data, ctx.certificate);
    tls.on('data', feed);
    tls.on('error', () => socket.destroy());
    output = tls;
  };
  socket.on('data', firstFeed);
  // Resets and aborts from the client are its business; the stand-in only stops serving.
  socket.on('error', () => {});
  socket.once('close', () => inbox.close());

  const send = (payload: Buffer, type: number = PacketType.tabularResult): void => {
    if (!socket.destroyed) output.write(encodePackets(type, payload, packetSize, ctx.spid));
  };
  const expect = async (type: number, what: string): Promise<TdsMessage | undefined> => {
    const message = await inbox.next();
    if (message && message.type !== type)
      throw new ProtocolError(`expected ${what}, got packet type 0x${message.type.toString(16)}`);
    return message;
  };
  const refuse = (errors: readonly SqlServerErrorInfo[]): void => {
    const w = new WireWriter();
    for (const error of errors) errorToken(w, { ...error, serverName: ctx.serverName });
    done(w, DoneStatus.error);
    send(w.toBuffer());
    output.end();
  };

  let state: ConnectionState | undefined;
  try {
    const prelogin = await expect(PacketType.prelogin, 'PRELOGIN');
    if (!prelogin) return;
    const answer = encodePreloginResponse(parsePrelogin(prelogin.payload));
    // From here the TLS layer reads the socket; the handshake starts as soon as the client has the answer.
    if (answer.encrypt) socket.off('data', feed);
    send(answer.payload);
    if (answer.encrypt) {
      const tls = await startTlsInPrelogin(socket, { ...ctx.certificate, packetSize, spid: ctx.spid });
      tls.on('data', feed);
      tls.on('error', () => socket.destroy());
      output = tls;
    }

    const loginMessage = await expect(PacketType.login7, 'LOGIN7');
    if (!loginMessage) return;
    const login = parseLogin7(loginMessage.payload);
    let token: string | undefined;
    if (login.fedAuth?.library === 'adal') {
      const w = new WireWriter();
      fedAuthInfo(w, `https://login.microsoftonline.com/${ctx.authority.tenantId}/`, SQL_RESOURCE);
      send(w.toBuffer());
      const tokenMessage = await expect(PacketType.fedAuthToken, 'FEDAUTH_TOKEN');
      if (!tokenMessage) return;
      token = parseFedAuthToken(tokenMessage.payload);
    } else if (login.fedAuth?.library === 'securityToken') token = login.fedAuth.token;

    const outcome = await authenticate(login, token, ctx);
    if (!outcome.ok) {
      refuse(outcome.errors);
      return;
    }
    const session = outcome.session;
    let descriptors = 0;
    state = {
      session,
      options: defaultSessionOptions(),
      descriptor: Buffer.alloc(8),
      tranCount: 0,
      savepoints: new Set(),
      bulkTable: undefined,
      serverName: ctx.serverName,
      faults: ctx.faults,
      nextDescriptor() {
        const b = Buffer.alloc(8);
        b.writeUInt32LE(ctx.spid, 4);
        b.writeUInt32LE(++descriptors, 0);
        return b;
      },
    };
    const negotiated = clampPacketSize(login.packetSize);
    send(loginResponse(session.database, negotiated, login.fedAuth !== undefined, ctx.serverName));
    packetSize = negotiated;

    let requests = 0;
    for (let message = await inbox.next(); message; message = await inbox.next()) {
      if (message.type === PacketType.attention) {
        attentionPending = false;
        const w = new WireWriter();
        done(w, DoneStatus.attention);
        send(w.toBuffer());
        continue;
      }
      requests++;
      if (requests > 1 && ctx.faults.takeDropOnRequest()) {
        socket.resetAndDestroy();
        return;
      }
      const canceled = new AbortController();
      attention = canceled;
      await latency(ctx.faults.latencyMs(), canceled.signal);
      attention = undefined;
      if (attentionPending) {
        // Canceled while waiting: the request's own answer is an empty DONE, the ack follows.
        const w = new WireWriter();
        done(w, DoneStatus.final);
        send(w.toBuffer());
        continue;
      }
      // The reset's ENVCHANGE opens the same response message: one request, one response.
      const reset = message.resetConnection ? await resetConnection(state) : Buffer.alloc(0);
      const reply = await handleRequest(message, state);
      send(Buffer.concat([reset, reply.payload]));
      if (reply.terminate) {
        output.end();
        return;
      }
    }
  } catch {
    socket.destroy();
  } finally {
    inbox.close();
    await state?.session.close().catch(() => {});
  }
}

function latency(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** sp_reset_connection: a pooled connection comes back clean, with its transaction rolled back. */
async function resetConnection(st: ConnectionState): Promise<Buffer> {
  if (st.session.inTransaction) await st.session.rollback();
  st.descriptor = Buffer.alloc(8);
  st.tranCount = 0;
  st.savepoints.clear();
  st.options = defaultSessionOptions();
  const w = new WireWriter();
  envChangeBytes(w, EnvChange.resetConnection, Buffer.alloc(0), Buffer.alloc(0));
  return w.toBuffer();
}

/** The tokens Azure SQL answers a successful login with, in its order. */
function loginResponse(database: string, packetSize: number, fedAuth: boolean, serverName: string): Buffer {
  const w = new WireWriter();
  envChangeText(w, EnvChange.database, database, 'master');
  infoToken(w, {
    number: 5701,
    state: 2,
    severity: 0,
    message: `Changed database context to '${database}'.`,
    serverName,
  });
  envChangeBytes(w, EnvChange.collation, DEFAULT_COLLATION, Buffer.alloc(0));
  envChangeText(w, EnvChange.language, 'us_english', '');
  infoToken(w, {
    number: 5703,
    state: 1,
    severity: 0,
    message: 'Changed language setting to us_english.',
    serverName,
  });
  loginAck(w);
  const features: Array<[number, Buffer]> = [[FEATURE_UTF8_SUPPORT, Buffer.from([1])]];
  if (fedAuth) features.unshift([FEATURE_FEDAUTH, Buffer.alloc(0)]);
  featureExtAck(w, features);
  envChangeText(w, EnvChange.packetSize, String(packetSize), String(LOGIN_PACKET_SIZE));
  done(w, DoneStatus.final);
  return w.toBuffer();
}
