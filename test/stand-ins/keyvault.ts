import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { LocalCa } from './ca.ts';
import type { Authority } from './identity.ts';

const audience = 'https://vault.azure.net';
const readers = ['Key Vault Secrets User', 'Key Vault Secrets Officer', 'Key Vault Administrator'];
const writers = ['Key Vault Secrets Officer', 'Key Vault Administrator'];

type Version = {
  version: string;
  value: string;
  contentType: string | undefined;
  enabled: boolean;
  created: number;
  updated: number;
  tags: Record<string, string>;
};

export type KeyVaultStandInOptions = {
  authority: Authority;
  ca: LocalCa;
  /** Vault resource id, the scope role assignments are checked against. */
  resourceId: string;
  /** @defaultValue 'keyless-local' */
  vaultName?: string;
  /** @defaultValue 0 */
  port?: number;
};

export type KeyVaultFault = { status: number; retryAfterSec?: number };

export type KeyVaultStandIn = {
  url: string;
  resourceId: string;
  /** Adds a new version (as `az keyvault secret set` does) and returns its version id. */
  setSecret(name: string, value: string, options?: { contentType?: string; enabled?: boolean }): string;
  setEnabled(name: string, version: string, enabled: boolean): void;
  /** Requests answered, for tests: method, path and status. */
  requests: { method: string; path: string; status: number }[];
  failNext(count: number, fault: KeyVaultFault): void;
  clearFaults(): void;
  setLatency(ms: number): void;
  close(): Promise<void>;
};

/**
 * The Key Vault secrets REST API over HTTPS, with the 401 bearer challenge, token checks
 * (signature, audience, expiry) and Azure RBAC role checks answered as Key Vault answers them.
 */
export async function startKeyVaultStandIn(options: KeyVaultStandInOptions): Promise<KeyVaultStandIn> {
  const { authority, ca, resourceId } = options;
  const vaultName = options.vaultName ?? 'keyless-local';
  const secrets = new Map<string, Version[]>();
  const requests: KeyVaultStandIn['requests'] = [];
  const faults: KeyVaultFault[] = [];
  let latencyMs = 0;
  let base = '';

  const bundle = (name: string, v: Version, withValue: boolean) => ({
    ...(withValue ? { value: v.value } : {}),
    id: `${base}/secrets/${name}/${v.version}`,
    ...(v.contentType ? { contentType: v.contentType } : {}),
    attributes: {
      enabled: v.enabled,
      created: v.created,
      updated: v.updated,
      recoveryLevel: 'Recoverable+Purgeable',
      recoverableDays: 90,
    },
    tags: v.tags,
  });

  const send = (
    res: ServerResponse,
    req: IncomingMessage,
    status: number,
    body: unknown,
    headers = {},
  ): void => {
    requests.push({ method: req.method ?? '', path: (req.url ?? '').split('?')[0] ?? '', status });
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'x-ms-keyvault-service-version': '1.9',
      ...headers,
    });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };
  const error = (code: string, message: string, inner?: string) => ({
    error: { code, message, ...(inner ? { innererror: { code: inner } } : {}) },
  });
  const notFound = (res: ServerResponse, req: IncomingMessage, nameOrId: string): void =>
    send(
      res,
      req,
      404,
      error(
        'SecretNotFound',
        `A secret with (name/id) ${nameOrId} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
      ),
    );
  const challenge = {
    'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/${authority.tenantId}", resource="${audience}"`,
  };

  const setSecret = (
    name: string,
    value: string,
    o: { contentType?: string; enabled?: boolean; tags?: Record<string, string> } = {},
  ) => {
    const now = Math.floor(Date.now() / 1000);
    const v: Version = {
      version: randomBytes(16).toString('hex'),
      value,
      contentType: o.contentType,
      enabled: o.enabled ?? true,
      created: now,
      updated: now,
      tags: o.tags ?? {},
    };
    const versions = secrets.get(name) ?? [];
    versions.push(v);
    secrets.set(name, versions);
    return v;
  };

  const readBody = async (req: IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return text ? JSON.parse(text) : {};
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', base);
    const fault = faults.shift();
    if (fault) {
      const headers = fault.retryAfterSec ? { 'retry-after': String(fault.retryAfterSec) } : {};
      send(res, req, fault.status, error('ServiceUnavailable', 'injected fault'), headers);
      return;
    }
    const auth = req.headers.authorization;
    if (!auth?.startsWith('Bearer ')) {
      send(
        res,
        req,
        401,
        error('Unauthorized', 'AKV10000: Request is missing a Bearer or PoP token.'),
        challenge,
      );
      return;
    }
    const check = authority.verify(auth.slice('Bearer '.length), audience);
    if (!check.ok) {
      const message =
        check.reason === 'wrong-audience'
          ? `AKV10022: Invalid audience. ${check.detail}.`
          : `Token validation failed: ${check.reason} (${check.detail}).`;
      send(res, req, 401, error('Unauthorized', message), challenge);
      return;
    }
    const { claims } = check;
    const parts = url.pathname.split('/').filter(Boolean);
    const isWrite = req.method === 'PUT' || req.method === 'PATCH';
    const [root, name, version] = parts;
    const scope = name ? `${resourceId}/secrets/${name}` : resourceId;
    if (!authority.hasRole(claims.oid, isWrite ? writers : readers, scope)) {
      const action = isWrite
        ? 'Microsoft.KeyVault/vaults/secrets/setSecret/action'
        : 'Microsoft.KeyVault/vaults/secrets/getSecret/action';
      send(
        res,
        req,
        403,
        error(
          'Forbidden',
          `Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid=${claims.appid};oid=${claims.oid};iss=${claims.iss}\r\nAction: '${action}'\r\nResource: '${scope.toLowerCase()}'\r\nAssignment: (not found)\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: ${vaultName};location=local\r\n`,
          'ForbiddenByRbac',
        ),
      );
      return;
    }
    if (root !== 'secrets') {
      send(res, req, 400, error('BadParameter', `Unsupported path ${url.pathname}`));
      return;
    }
    if (!name && req.method === 'GET') {
      const maxResults = Number(url.searchParams.get('maxresults') ?? '25');
      const skip = Number(url.searchParams.get('$skiptoken') ?? '0');
      const all = [...secrets.entries()].sort(([a], [b]) => a.localeCompare(b));
      const page = all.slice(skip, skip + maxResults).map(([n, versions]) => {
        const latest = versions.at(-1) as Version;
        const { id: _id, ...rest } = bundle(n, latest, false);
        return { id: `${base}/secrets/${n}`, ...rest };
      });
      const next =
        skip + maxResults < all.length
          ? `${base}/secrets?api-version=${url.searchParams.get('api-version')}&maxresults=${maxResults}&$skiptoken=${skip + maxResults}`
          : null;
      send(res, req, 200, { value: page, nextLink: next });
      return;
    }
    if (!name) {
      send(res, req, 405, error('BadParameter', 'Method not allowed'));
      return;
    }
    if (req.method === 'PUT') {
      const body = (await readBody(req)) as {
        value?: string;
        contentType?: string;
        attributes?: { enabled?: boolean };
        tags?: Record<string, string>;
      };
      if (typeof body.value !== 'string') {
        send(res, req, 400, error('BadParameter', 'The parameter value is required.'));
        return;
      }
      const o: { contentType?: string; enabled?: boolean; tags?: Record<string, string> } = {};
      if (body.contentType) o.contentType = body.contentType;
      if (body.attributes?.enabled !== undefined) o.enabled = body.attributes.enabled;
      if (body.tags) o.tags = body.tags;
      send(res, req, 200, bundle(name, setSecret(name, body.value, o), true));
      return;
    }
    const versions = secrets.get(name);
    if (version === 'versions' && req.method === 'GET') {
      if (!versions) {
        notFound(res, req, name);
        return;
      }
      send(res, req, 200, { value: versions.map((v) => bundle(name, v, false)), nextLink: null });
      return;
    }
    const found = version ? versions?.find((v) => v.version === version) : versions?.at(-1);
    if (!found) {
      notFound(res, req, version ? `${name}/${version}` : name);
      return;
    }
    if (req.method === 'PATCH') {
      const body = (await readBody(req)) as { attributes?: { enabled?: boolean } };
      if (body.attributes?.enabled !== undefined) found.enabled = body.attributes.enabled;
      found.updated = Math.floor(Date.now() / 1000);
      send(res, req, 200, bundle(name, found, false));
      return;
    }
    if (!found.enabled) {
      send(
        res,
        req,
        403,
        error('Forbidden', 'Operation get is not allowed on a disabled secret.', 'SecretDisabled'),
      );
      return;
    }
    send(res, req, 200, bundle(name, found, true));
  };

  const cert = ca.issue(['localhost', '127.0.0.1', `${vaultName}.vault.azure.net`]);
  const server: Server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const run = () =>
      handle(req, res).catch((e: unknown) => {
        if (!res.headersSent)
          send(res, req, 500, error('InternalError', e instanceof Error ? e.message : String(e)));
      });
    if (latencyMs > 0) setTimeout(run, latencyMs);
    else void run();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  base = `https://localhost:${port}`;
  let closed = false;

  return {
    url: base,
    resourceId,
    setSecret: (name, value, o) => setSecret(name, value, o).version,
    setEnabled(name, version, enabled) {
      const v = secrets.get(name)?.find((x) => x.version === version);
      if (!v) throw new Error(`no version ${version} of ${name}`);
      v.enabled = enabled;
    },
    requests,
    failNext(count, fault) {
      for (let i = 0; i < count; i++) faults.push(fault);
    },
    clearFaults() {
      faults.length = 0;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    async close() {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
