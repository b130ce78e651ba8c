/**
 * Whether a receiver's link is open and delivering to its subscription. The SDK has no public link
 * state; its receivers answer this through an internal method, used when present. Anything else
 * (a test fake) counts as open until closed.
 */
export function receiverLinkOpen(receiver: object | undefined): boolean {
  if (!receiver) return false;
  const probe = (receiver as { _isReceivingMessages?: () => boolean })._isReceivingMessages;
  if (typeof probe === 'function') return probe.call(receiver) === true;
  return (receiver as { isClosed?: boolean }).isClosed !== true;
}
