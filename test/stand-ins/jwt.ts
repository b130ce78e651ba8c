import { createPublicKey, createSign, createVerify, type KeyObject } from 'node:crypto';

/** Claims an Entra managed identity token carries (the ones the stand-ins read). */
export type TokenClaims = {
  aud: string;
  iss: string;
  tid: string;
  oid: string;
  sub: string;
  appid: string;
  azp: string;
  idtyp: 'app';
  xms_mirid: string;
  iat: number;
  nbf: number;
  exp: number;
};

const b64url = (value: Buffer | string): string => Buffer.from(value).toString('base64url');

export function signJwt(claims: TokenClaims, privateKey: KeyObject, kid: string): string {
  const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid }));
  const body = b64url(JSON.stringify(claims));
  const signature = createSign('RSA-SHA256').update(`${header}.${body}`).sign(privateKey);
  return `${header}.${body}.${b64url(signature)}`;
}

/** Why a token was refused, in the words the services' errors use. */
export type TokenRejection = 'malformed' | 'bad-signature' | 'wrong-audience' | 'expired' | 'not-yet-valid';

export type TokenCheck =
  | { ok: true; claims: TokenClaims }
  | { ok: false; reason: TokenRejection; detail: string };

/** Resources compare without a trailing slash: Entra issues `https://database.windows.net/` as given. */
export const sameResource = (a: string, b: string): boolean =>
  a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

export function verifyJwt(token: string, publicKey: KeyObject, audience: string, nowSec: number): TokenCheck {
  const parts = token.split('.');
  if (parts.length !== 3)
    return { ok: false, reason: 'malformed', detail: 'not a JWT (three dot-separated parts)' };
  const [header, body, signature] = parts as [string, string, string];
  const valid = createVerify('RSA-SHA256')
    .update(`${header}.${body}`)
    .verify(publicKey, Buffer.from(signature, 'base64url'));
  if (!valid) return { ok: false, reason: 'bad-signature', detail: 'signature does not verify' };
  let claims: TokenClaims;
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TokenClaims;
  } catch {
    return { ok: false, reason: 'malformed', detail: 'payload is not JSON' };
  }
  if (!sameResource(claims.aud, audience)) {
    return { ok: false, reason: 'wrong-audience', detail: `expected ${audience}, found ${claims.aud}` };
  }
  if (claims.exp <= nowSec) {
    return {
      ok: false,
      reason: 'expired',
      detail: `expired at ${new Date(claims.exp * 1000).toISOString()}`,
    };
  }
  if (claims.nbf > nowSec + 300)
    return { ok: false, reason: 'not-yet-valid', detail: 'nbf is in the future' };
  return { ok: true, claims };
}

export const publicKeyFromPem = (pem: string): KeyObject => createPublicKey(pem);
