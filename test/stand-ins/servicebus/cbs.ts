import type { Message } from 'rhea';
import type { Authority } from '../identity.ts';
import type { ConnectionAuthorizations } from './authorizations.ts';
import type { Faults } from './faults.ts';
import { trackingSuffix } from './model.ts';

export const SERVICE_BUS_AUDIENCE = 'https://servicebus.azure.net';

const REJECTIONS: Record<string, string> = {
  malformed: 'InvalidToken: The token is not a well-formed JWT.',
  'bad-signature': 'InvalidSignature: The token has an invalid signature.',
  'wrong-audience': 'InvalidAudience: The token audience is invalid.',
  expired: 'ExpiredToken: The token is expired.',
  'not-yet-valid': 'InvalidToken: The token is not yet valid.',
};

const reply = (request: Message, status: number, description: string): Message => ({
  correlation_id: request.message_id,
  to: request.reply_to,
  application_properties: { 'status-code': status, 'status-description': description },
  body: null,
});

/** Answers a `$cbs` put-token: checks the JWT and remembers whom it authorizes for which entity. */
export function answerCbs(
  request: Message,
  authority: Authority,
  authorizations: ConnectionAuthorizations,
  faults: Faults,
): Message {
  const props = (request.application_properties ?? {}) as Record<string, unknown>;
  if (props.operation !== 'put-token')
    return reply(request, 400, `Unsupported operation '${String(props.operation)}'.`);
  const audience = String(props.name ?? '');
  if (faults.refuseTokens > 0) {
    faults.refuseTokens -= 1;
    return reply(request, 401, `InvalidToken: The token was refused (injected fault).${trackingSuffix()}`);
  }
  if (props.type !== 'jwt') {
    return reply(request, 401, `InvalidToken: Only 'jwt' tokens are accepted here.${trackingSuffix()}`);
  }
  const check = authority.verify(String(request.body ?? ''), SERVICE_BUS_AUDIENCE);
  if (!check.ok) {
    return reply(
      request,
      401,
      `${REJECTIONS[check.reason] ?? 'InvalidToken:'} ${check.detail}.${trackingSuffix()}`,
    );
  }
  authorizations.put(audience, { principalId: check.claims.oid, expiresAtMs: check.claims.exp * 1000 });
  return reply(request, 202, 'Accepted');
}
