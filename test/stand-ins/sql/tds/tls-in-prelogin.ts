import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { createSecureContext, TLSSocket } from 'node:tls';
import { encodePackets, MessageAssembler, PacketType } from './packets.ts';

export type TlsInPreloginOptions = { certPem: string; keyPem: string; packetSize: number; spid: number };

/**
 * The server side of TDS 7.x TLS: handshake records travel inside PRELOGIN packets, then the
 * connection carries raw TLS records. Resolves with the cleartext side once the handshake is done.
 *
 * The client sends one PRELOGIN message per handshake flight and reads exactly one message back, so
 * each server flight (several TLS writes) is gathered and sent as one message. The server's last
 * flight is written after `secure`, so it must still be wrapped; the switch to raw TLS happens when
 * the client's next bytes arrive, which it sends only after reading that flight.
 */
export function startTlsInPrelogin(socket: Socket, options: TlsInPreloginOptions): Promise<TLSSocket> {
  let raw = false;
  let secured = false;
  let flight: Buffer[] = [];
  let flushScheduled = false;

  const flush = (): void => {
    flushScheduled = false;
    if (flight.length === 0 || socket.destroyed) return;
    const payload = Buffer.concat(flight);
    flight = [];
    socket.write(encodePackets(PacketType.prelogin, payload, options.packetSize, options.spid));
  };

  const wire = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      if (raw) {
        socket.write(chunk, (err) => callback(err ?? null));
        return;
      }
      flight.push(chunk);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
      callback();
    },
    destroy(err, callback) {
      socket.destroy();
      callback(err);
    },
  });

  const assembler = new MessageAssembler((message) => wire.push(message.payload));
  const onData = (data: Buffer): void => {
    if (!raw && secured) {
      flush();
      raw = true;
    }
    if (raw) wire.push(data);
    else assembler.feed(data);
  };
  socket.on('data', onData);
  socket.once('close', () => wire.destroy());

  const tls = new TLSSocket(wire, {
    isServer: true,
    secureContext: createSecureContext({ cert: options.certPem, key: options.keyPem }),
  });

  return new Promise((resolve, reject) => {
    const onError = (err: unknown): void => {
      socket.destroy();
      reject(err);
    };
    // A client that goes away mid-handshake (killed, or its connection dropped) closes the TLS
    // socket without an error: without this the connection would be served forever.
    const onClose = (): void => onError(new Error('the connection closed during the TLS handshake'));
    tls.once('error', onError);
    tls.once('close', onClose);
    socket.once('close', onClose);
    tls.once('secure', () => {
      secured = true;
      tls.off('error', onError);
      tls.off('close', onClose);
      socket.off('close', onClose);
      resolve(tls);
    });
  });
}
