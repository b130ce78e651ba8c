/** Who a token says we are: for diagnostics and actionable errors. Never carries the token itself. */
export type IdentityDescription = {
  kind: 'user-assigned' | 'system-assigned' | 'user' | 'unknown';
  objectId: string | undefined;
  clientId: string | undefined;
  /** Resource id of the user-assigned identity (`xms_mirid`), when the token has one. */
  resourceId: string | undefined;
  tenantId: string | undefined;
  audience: string | undefined;
  expiresOn: Date | undefined;
};

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * Reads the claims of a JWT access token without verifying it: the token came from our own
 * credential, and only its description (never the token) goes into logs and errors.
 */
export function describeIdentity(accessToken: string): IdentityDescription {
  let claims: Record<string, unknown> = {};
  const body = accessToken.split('.')[1];
  if (body) {
    try {
      const parsed: unknown = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
      if (parsed && typeof parsed === 'object') claims = parsed as Record<string, unknown>;
    } catch {
      // Not a JWT: describe it as unknown rather than fail the caller's error path.
    }
  }
  const resourceId = str(claims.xms_mirid);
  const exp = typeof claims.exp === 'number' ? new Date(claims.exp * 1000) : undefined;
  let kind: IdentityDescription['kind'] = 'unknown';
  if (resourceId?.toLowerCase().includes('/microsoft.managedidentity/userassignedidentities/'))
    kind = 'user-assigned';
  else if (resourceId) kind = 'system-assigned';
  else if (str(claims.upn) || str(claims.unique_name)) kind = 'user';
  return {
    kind,
    objectId: str(claims.oid),
    clientId: str(claims.appid) ?? str(claims.azp),
    resourceId,
    tenantId: str(claims.tid),
    audience: str(claims.aud),
    expiresOn: exp,
  };
}
/** One line for logs and error messages. */
export function formatIdentity(d: IdentityDescription): string {
  const parts = [`${d.kind} identity`];
  if (d.clientId) parts.push(`client id ${d.clientId}`);
  if (d.objectId) parts.push(`object id ${d.objectId}`);
  if (d.resourceId) parts.push(`resource ${d.resourceId}`);
  return parts.join(', ');
}
