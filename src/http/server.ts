import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { defaults } from '../defaults.ts';
import type { Metrics } from '../metrics-registry.ts';
import type { Health } from './health.ts';
import type { Readiness } from './readiness.ts';

export type OpsServerOptions = {
  /** 0 picks a free port (tests). @defaultValue 8080 */
  port?: number;
  /** The platform's probes reach the container on its own address, not loopback. @defaultValue defaults.httpHost */
  host?: string;
  health: Health;
  readiness: Readiness;
  metrics: Metrics;
  logger: Logger;
};

export type OpsServer = {
  start(): Promise<void>;
  /** The port it listens on, once started. */
  readonly port: number;
  /** Stops listening and ends open connections. Idempotent. */
  close(): Promise<void>;
};

const json = (res: ServerResponse, status: number, body: unknown): void => {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(text);
};

/**
 * The one HTTP port: `/healthz` (liveness), `/readyz` (readiness), `/metrics` (Prometheus). It
 * starts before the worker's long start steps so a startup probe can watch them, and closes last.
 */
export function createOpsServer(options: OpsServerOptions): OpsServer {
  const { health, readiness, metrics, logger } = options;
  let server: Server | undefined;
  let closing: Promise<void> | undefined;
  const port = (): number => (server?.address() as AddressInfo | null)?.port ?? 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      const result = health.check();
      json(res, result.healthy ? 200 : 503, { status: result.healthy ? 'ok' : 'stuck', ...result });
    } else if (path === '/readyz') {
      const result = await readiness.check();
      json(res, result.ready ? 200 : 503, { status: result.ready ? 'ready' : 'not ready', ...result });
    } else if (path === '/metrics') {
      const text = await metrics.text();
      res.writeHead(200, { 'content-type': metrics.contentType }).end(text);
    } else {
      json(res, 404, { error: `no such endpoint; try /healthz, /readyz or /metrics` });
    }
  };

  return {
    get port() {
      return port();
    },
    async start() {
      if (server) return;
      const s = createServer((req, res) => {
        handle(req, res).catch((error: unknown) => {
          logger.error({ err: error, path: req.url }, 'ops endpoint failed');
          if (!res.headersSent) json(res, 500, { error: 'internal error' });
          else res.end();
        });
      });
      server = s;
      // A probe must not keep the process alive on its own, nor wait on a lingering keep-alive.
      s.keepAliveTimeout = 5_000;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(options.port ?? defaults.httpPort, options.host ?? defaults.httpHost, () => {
          s.off('error', reject);
          resolve();
        });
      });
      const host = (s.address() as AddressInfo).address;
      logger.info({ host, port: port() }, 'ops endpoints listening: /healthz /readyz /metrics');
    },
    close() {
      closing ??= (async () => {
        const s = server;
        if (!s) return;
        await new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}
