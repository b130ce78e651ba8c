import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

export type TokenExpiryProxy = {
  port: number;
  /** Client connections closed because their token expired without a new AUTH. */
  expiredConnections(): number;
  close(): Promise<void>;
};

/** Reads whole RESP command arrays from a client's byte stream; only AUTH and HELLO are looked at. */
class CommandReader {
  #buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): string[][] {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const commands: string[][] = [];
    for (;;) {
      const parsed = this.#next();
      if (!parsed) return commands;
      commands.push(parsed);
    }
  }

  #next(): string[] | undefined {
    const b = this.#buffer;
    if (b.length === 0 || b[0] !== 0x2a) return undefined; // '*': clients send arrays of bulk strings
    let at = b.indexOf('\r\n');
    if (at < 0) return undefined;
    const count = Number(b.subarray(1, at).toString());
    let offset = at + 2;
    const args: string[] = [];
    for (let i = 0; i < count; i++) {
      at = b.indexOf('\r\n', offset);
      if (at < 0) return undefined;
      const length = Number(b.subarray(offset + 1, at).toString());
      const start = at + 2;
      if (b.length < start + length + 2) return undefined;
      // Only short leading arguments matter; scripts and values stay unread.
      args.push(i < 6 && length < 16_384 ? b.subarray(start, start + length).toString() : '');
      offset = start + length + 2;
    }
    this.#buffer = b.subarray(offset);
    return args;
  }
}

/** `exp` of a JWT, in ms, or undefined when the password is not one. */
const expiryOf = (token: string): number | undefined => {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
      exp?: number;
    };
    return typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Sits in front of a redis-server and does what Azure Redis does and Redis itself does not: a
 * connection whose token expires without a fresh AUTH is closed. Without it, a client that never
 * re-authenticates would keep working locally and fail only in Azure.
 */
export async function startTokenExpiryProxy(target: { port: number }): Promise<TokenExpiryProxy> {
  const sockets = new Set<Socket>();
  let expired = 0;
  const server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: target.port });
    sockets.add(client);
    sockets.add(upstream);
    const reader = new CommandReader();
    let timer: NodeJS.Timeout | undefined;
    const authenticated = (token: string | undefined): void => {
      const exp = token ? expiryOf(token) : undefined;
      if (exp === undefined) return;
      clearTimeout(timer);
      timer = setTimeout(
        () => {
          expired++;
          client.destroy();
          upstream.destroy();
        },
        Math.max(0, exp - Date.now()),
      );
    };
    client.on('data', (chunk: Buffer) => {
      for (const args of reader.push(chunk)) {
        const name = args[0]?.toUpperCase();
        if (name === 'AUTH') authenticated(args.length >= 3 ? args[2] : args[1]);
        const authAt = args.findIndex((a) => a.toUpperCase() === 'AUTH');
        if (name === 'HELLO' && authAt > 0) authenticated(args[authAt + 2]);
      }
      if (!upstream.destroyed) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!client.destroyed) client.write(chunk);
    });
    const end = () => {
      clearTimeout(timer);
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    expiredConnections: () => expired,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
