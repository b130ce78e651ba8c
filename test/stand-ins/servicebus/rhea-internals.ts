import type { Delivery, link, Sender } from 'rhea';

/**
 * The parts of rhea's link objects a broker needs that its typings leave out: link credit, the
 * peer's drain flag, the local attach frame (answered after the open event), and the session's
 * outgoing queue (credit only drops when a transfer is written, not when `send` queues it).
 */
type LinkInternals = {
  credit: number;
  _draining?: boolean;
  local: { attach: Record<string, unknown> };
  remote: { attach?: Record<string, unknown> };
  session: { outgoing: { next_pending_delivery: number; available(): number } };
};

const internals = (l: link): LinkInternals => l as unknown as LinkInternals;

export const linkCredit = (l: link): number => internals(l).credit;

export const peerIsDraining = (l: Sender): boolean => internals(l)._draining === true;

/** Deliveries queued on the session but not yet written (they still hold credit). */
export const isUnwritten = (l: link, delivery: Delivery): boolean =>
  delivery.id >= internals(l).session.outgoing.next_pending_delivery;

export const sessionHasRoom = (l: link): boolean => internals(l).session.outgoing.available() > 0;

export const remoteAttach = (l: link): Record<string, unknown> => internals(l).remote.attach ?? {};

/** Fills our answering attach (still unsent during the open event) the way Service Bus does. */
export function answerAttach(l: link, maxMessageSize: number): void {
  const remote = remoteAttach(l);
  const local = internals(l).local.attach;
  local.snd_settle_mode = remote.snd_settle_mode;
  local.rcv_settle_mode = remote.rcv_settle_mode;
  local.max_message_size = maxMessageSize;
  if (remote.source) l.set_source(remote.source as Parameters<link['set_source']>[0]);
  if (remote.target) l.set_target(remote.target as Parameters<link['set_target']>[0]);
}

export const sourceAddress = (l: link): string =>
  String((remoteAttach(l).source as { address?: string } | undefined)?.address ?? '');

export const targetAddress = (l: link): string =>
  String((remoteAttach(l).target as { address?: string } | undefined)?.address ?? '');
