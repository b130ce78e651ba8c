import type { AddressInfo } from 'node:net';
import { createServer, type Socket } from 'node:net';
import type { LocalCa } from '../ca.ts';
import type { Authority } from '../identity.ts';
import type { SqlEngine } from './engine-api.ts';
import { createFaultState, type SqlFaults } from './tds/faults.ts';
import { serveTdsConnection } from './tds/tds-connection.ts';

export type { SqlFaults } from './tds/faults.ts';

export type SqlStandInOptions = {
  /** Verifies FEDAUTH tokens (audience `https://database.windows.net/`) and names their identity. */
  authority: Authority;
  /** Issues the certificate for the TLS handshake inside PRELOGIN. */
  ca: LocalCa;
  /** Executes T-SQL for each logged-in session. Not closed by the stand-in. */
  engine: SqlEngine;
  /** @defaultValue 0 (any free port on 127.0.0.1) */
  port?: number;
  /** The host name clients connect to, and the certificate's name. @defaultValue 'localhost' */
  serverName?: string;
};

export type SqlStandIn = {
  port: number;
  /** The host name to connect to (tedious `server`). */
  server: string;
  faults: SqlFaults;
  /** Open client connections. */
  connections(): number;
  /** Stops listening, destroys every connection and waits until their sessions are closed. Idempotent. */
  close(): Promise<void>;
};

/**
 * An Azure SQL Database stand-in: a TDS 7.4 server on 127.0.0.1 that logs in managed identities by
 * their FEDAUTH token (or SQL logins by password) and runs their T-SQL on `engine`.
 */
export async function startSqlStandIn(options: SqlStandInOptions): Promise<SqlStandIn> {
  const serverName = options.serverName ?? 'localhost';
  const certificate = options.ca.issue([serverName, 'localhost', '127.0.0.1']);
  const sockets = new Set<Socket>();
  const serving = new Set<Promise<void>>();
  // A reset, not a close: a connection dropped by a gateway or a failover reaches the client as ECONNRESET.
  const faults = createFaultState(() => {
    for (const socket of sockets) socket.resetAndDestroy();
  });
  let nextSpid = 51;

  const server = createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const spid = nextSpid++;
    const run = serveTdsConnection(socket, {
      authority: options.authority,
      engine: options.engine,
      faults,
      serverName,
      certificate,
      spid,
    }).finally(() => {
      socket.destroy();
      serving.delete(run);
    });
    serving.add(run);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });

  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    server: serverName,
    faults: faults.api,
    connections: () => sockets.size,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await Promise.allSettled([...serving]);
        await stopped;
      })();
      return closing;
    },
  };
}
