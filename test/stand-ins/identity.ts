import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signJwt, type TokenCheck, type TokenClaims, verifyJwt } from './jwt.ts';

/** A user-assigned managed identity as the stand-in knows it. */
export type UserAssignedIdentity = { name: string; clientId: string; objectId: string; resourceId: string };

/** An Azure RBAC role assignment: `principalId` holds `role` at `scope` and everything below it. */
export type RoleAssignment = { principalId: string; role: string; scope: string };

/** What the other stand-ins need from the identity endpoint: check a token, check a role. */
export type Authority = {
  tenantId: string;
  verify(token: string, audience: string): TokenCheck;
  hasRole(principalId: string, roles: readonly string[], resourceScope: string): boolean;
  identityByObjectId(objectId: string): UserAssignedIdentity | undefined;
};

/** A fault the endpoint answers with instead of a token. */
export type IdentityFault = { status: number; retryAfterSec?: number; body?: string };

export type IdentityStandInOptions = {
  /** Lifetime of issued tokens. @defaultValue 3600 */
  tokenLifetimeSec?: number;
  /** @defaultValue a random GUID */
  tenantId?: string;
  /** @defaultValue a random GUID */
  subscriptionId?: string;
  /** @defaultValue 'keyless-local' */
  resourceGroup?: string;
  /** @defaultValue 0 (any free port) */
  port?: number;
};

/** A token the stand-in signed: who for, which audience, until when (ms since the epoch). */
export type IssuedToken = { objectId: string; audience: string; token: string; expiresAtMs: number };

export type TokenRequest = { resource: string; clientId: string | undefined; at: number; status: number };

export type IdentityStandIn = Authority & {
  endpoint: string;
  header: string;
  /** Where the signing key is published as a JWKS, as Entra publishes its keys for token validation. */
  keysUrl: string;
  publicKeyPem: string;
  subscriptionId: string;
  resourceGroup: string;
  /** Requests the endpoint answered, newest last. */
  requests: TokenRequest[];
  tokenLifetimeSec: number;
  /** Changes the lifetime of tokens issued from now on. */
  setTokenLifetimeSec(seconds: number): void;
  /**
   * Turns on the app's system-assigned identity: a request without client_id gets its tokens, whose
   * xms_mirid is the app's own resource id (as Entra issues them), not a userAssignedIdentities one.
   */
  enableSystemAssigned(appName: string): UserAssignedIdentity;
  /** Registers a user-assigned identity (random ids unless given). */
  addIdentity(name: string, ids?: Partial<Omit<UserAssignedIdentity, 'name'>>): UserAssignedIdentity;
  assignRole(principalId: string, role: string, scope: string): void;
  removeRole(principalId: string, role: string, scope: string): void;
  assignments(): readonly RoleAssignment[];
  /** A resource id under the stand-in's subscription and resource group. */
  resourceId(provider: string, name: string): string;
  /** Signs a token directly, for tests that need one the endpoint would not issue (wrong audience, expired). */
  issueToken(identity: UserAssignedIdentity, audience: string, lifetimeSec?: number): string;
  /** Tells `listener` of every token signed from now on (a Redis stand-in accepts those). Returns an unsubscribe. */
  onTokenIssued(listener: (issued: IssuedToken) => void): () => void;
  /** The next `count` token requests fail with `fault`. */
  failNext(count: number, fault: IdentityFault): void;
  /** Every token request fails with `fault` until `untilMs` (epoch ms); a later call replaces it. */
  failUntil(untilMs: number, fault: IdentityFault): void;
  /** Delay before every answer. */
  setLatency(ms: number): void;
  /** Stop listening (connections are refused) until `up()`. The port is kept. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
};

const listen = (server: Server, port: number): Promise<void> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });

const closeServer = (server: Server): Promise<void> =>
  new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

const json = (
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
};

/** Scopes match on path segments, case-insensitively, as Azure RBAC inherits down the resource tree. */
const scopeCovers = (assignmentScope: string, resourceScope: string): boolean => {
  const a = assignmentScope.toLowerCase().replace(/\/+$/, '');
  const r = resourceScope.toLowerCase().replace(/\/+$/, '');
  return r === a || r.startsWith(`${a}/`) || a === '';
};

/**
 * The Container Apps / App Service managed identity endpoint (api-version 2019-08-01), issuing RS256
 * JWTs with the claims Entra puts in managed identity tokens, and the role assignments the other
 * stand-ins enforce.
 */
export async function startIdentityStandIn(options: IdentityStandInOptions = {}): Promise<IdentityStandIn> {
  let tokenLifetimeSec = options.tokenLifetimeSec ?? 3600;
  const tenantId = options.tenantId ?? randomUUID();
  const subscriptionId = options.subscriptionId ?? randomUUID();
  const resourceGroup = options.resourceGroup ?? 'keyless-local';
  const header = randomUUID();
  const kid = randomUUID();
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const identities = new Map<string, UserAssignedIdentity>();
  const roles: RoleAssignment[] = [];
  const requests: TokenRequest[] = [];
  const faults: IdentityFault[] = [];
  let outage: { untilMs: number; fault: IdentityFault } | undefined;
  let latencyMs = 0;
  let systemAssigned: UserAssignedIdentity | undefined;

  const tokenListeners = new Set<(issued: IssuedToken) => void>();
  const resourceId = (provider: string, name: string): string =>
    `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/${provider}/${name}`;

  const issueToken = (
    identity: UserAssignedIdentity,
    audience: string,
    lifetimeSec = tokenLifetimeSec,
  ): string => {
    const now = Math.floor(Date.now() / 1000);
    const claims: TokenClaims = {
      aud: audience,
      iss: `https://sts.windows.net/${tenantId}/`,
      tid: tenantId,
      oid: identity.objectId,
      sub: identity.objectId,
      appid: identity.clientId,
      azp: identity.clientId,
      idtyp: 'app',
      xms_mirid: identity.resourceId,
      iat: now,
      nbf: now,
      exp: now + (lifetimeSec ?? tokenLifetimeSec),
    };
    const token = signJwt(claims, privateKey, kid);
    const issued = { objectId: identity.objectId, audience, token, expiresAtMs: claims.exp * 1000 };
    for (const listener of tokenListeners) listener(issued);
    return token;
  };

  const jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' }] };

  const answer = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/discovery/keys') {
      json(res, 200, jwks);
      return;
    }
    const resource = url.searchParams.get('resource') ?? '';
    const clientId = url.searchParams.get('client_id') ?? undefined;
    const record = (status: number): void => {
      requests.push({ resource, clientId, at: Date.now(), status });
    };
    if (outage && Date.now() >= outage.untilMs) outage = undefined;
    const fault = faults.shift() ?? outage?.fault;
    if (fault) {
      record(fault.status);
      const headers: Record<string, string> = fault.retryAfterSec
        ? { 'retry-after': String(fault.retryAfterSec) }
        : {};
      json(
        res,
        fault.status,
        { error: 'fault_injected', error_description: fault.body ?? 'injected fault' },
        headers,
      );
      return;
    }
    if (req.headers['x-identity-header'] !== header) {
      record(401);
      json(res, 401, { statusCode: 401, message: 'X-IDENTITY-HEADER is missing or wrong' });
      return;
    }
    if (url.searchParams.get('api-version') !== '2019-08-01' || !resource) {
      record(400);
      json(res, 400, {
        error: 'invalid_request',
        error_description: 'api-version=2019-08-01 and resource are required',
      });
      return;
    }
    const identity = clientId
      ? [...identities.values()].find((i) => i.clientId === clientId)
      : systemAssigned;
    if (!identity) {
      record(400);
      json(res, 400, {
        error: 'invalid_request',
        error_description: clientId
          ? `Identity not found: no user-assigned identity with client_id ${clientId} is assigned to this app`
          : 'No system-assigned identity is enabled for this app',
      });
      return;
    }
    const token = issueToken(identity, resource);
    record(200);
    json(res, 200, {
      access_token: token,
      expires_on: String(Math.floor(Date.now() / 1000) + tokenLifetimeSec),
      resource,
      token_type: 'Bearer',
      client_id: identity.clientId,
    });
  };

  const server = createServer((req, res) => {
    if (latencyMs > 0) setTimeout(() => answer(req, res), latencyMs);
    else answer(req, res);
  });
  await listen(server, options.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  let listening = true;

  const standIn: IdentityStandIn = {
    endpoint: `http://127.0.0.1:${port}/msi/token`,
    header,
    keysUrl: `http://127.0.0.1:${port}/discovery/keys`,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    tenantId,
    subscriptionId,
    resourceGroup,
    requests,
    get tokenLifetimeSec() {
      return tokenLifetimeSec;
    },
    setTokenLifetimeSec(seconds) {
      tokenLifetimeSec = seconds;
    },
    addIdentity(name, ids = {}) {
      const identity: UserAssignedIdentity = {
        name,
        clientId: ids.clientId ?? randomUUID(),
        objectId: ids.objectId ?? randomUUID(),
        resourceId: ids.resourceId ?? resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', name),
      };
      identities.set(name, identity);
      return identity;
    },
    enableSystemAssigned(appName) {
      systemAssigned ??= {
        name: appName,
        clientId: randomUUID(),
        objectId: randomUUID(),
        resourceId: resourceId('Microsoft.App/containerApps', appName),
      };
      return systemAssigned;
    },
    identityByObjectId: (objectId) =>
      [...identities.values(), ...(systemAssigned ? [systemAssigned] : [])].find(
        (i) => i.objectId === objectId,
      ),
    assignRole(principalId, role, scope) {
      roles.push({ principalId, role, scope });
    },
    removeRole(principalId, role, scope) {
      const i = roles.findIndex((r) => r.principalId === principalId && r.role === role && r.scope === scope);
      if (i >= 0) roles.splice(i, 1);
    },
    assignments: () => roles,
    hasRole: (principalId, wanted, resourceScope) =>
      roles.some(
        (r) =>
          r.principalId === principalId && wanted.includes(r.role) && scopeCovers(r.scope, resourceScope),
      ),
    verify: (token, audience) => verifyJwt(token, publicKey, audience, Math.floor(Date.now() / 1000)),
    resourceId,
    issueToken,
    onTokenIssued(listener) {
      tokenListeners.add(listener);
      return () => tokenListeners.delete(listener);
    },
    failNext(count, fault) {
      for (let i = 0; i < count; i++) faults.push(fault);
    },
    failUntil(untilMs, fault) {
      outage = { untilMs, fault };
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    async down() {
      if (!listening) return;
      listening = false;
      await closeServer(server);
    },
    async up() {
      if (listening) return;
      await listen(server, port);
      listening = true;
    },
    async close() {
      if (!listening) return;
      listening = false;
      await closeServer(server);
    },
  };
  return standIn;
}
