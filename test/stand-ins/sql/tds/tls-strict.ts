import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { createSecureContext, TLSSocket } from 'node:tls';

/**
 * TDS 8.0 (`encrypt: 'strict'`): TLS comes first, before PRELOGIN, and carries the whole
 * connection. `firstChunk` is the ClientHello already read from the socket, so the socket is
 * wrapped in a JS stream that replays it rather than handed to TLS directly.
 */
export function startStrictTls(
  socket: Socket,
  firstChunk: Buffer,
  certificate: { certPem: string; keyPem: string },
): TLSSocket {
  const wire = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, (err) => callback(err ?? null));
    },
    destroy(err, callback) {
      socket.destroy();
      callback(err);
    },
  });
  wire.push(firstChunk);
  socket.on('data', (data: Buffer) => wire.push(data));
  socket.once('close', () => wire.destroy());
  return new TLSSocket(wire, {
    isServer: true,
    ALPNProtocols: ['tds/8.0'],
    secureContext: createSecureContext({ cert: certificate.certPem, key: certificate.keyPem }),
  });
}
