import type { Connection, EventContext, Message, Receiver, Sender } from 'rhea';
import type { Authority } from '../identity.ts';
import { ConnectionAuthorizations } from './authorizations.ts';
import { answerCbs } from './cbs.ts';
import { Consumer } from './consumer.ts';
import type { Faults } from './faults.ts';
import { answerManagement, type createManagementOperations } from './management.ts';
import { BrokerFault, isBrokerFault, trackingSuffix } from './model.ts';
import type { Namespace } from './namespace.ts';
import { answerAttach, remoteAttach, sourceAddress, targetAddress } from './rhea-internals.ts';
import { decodeTransfer, encodeMessage } from './wire-format.ts';

/** Standard tier: the largest message (or batch) a link accepts, announced on attach. */
export const MAX_MESSAGE_SIZE = 262_144;

export type BrokerContext = {
  namespace: Namespace;
  authority: Authority;
  faults: Faults;
  host: string;
  operations: ReturnType<typeof createManagementOperations>;
};

const isManagement = (address: string): boolean => /\/\$management$/i.test(address);

const refuse = (link: Sender | Receiver, error: unknown): void => {
  const condition = isBrokerFault(error) ? error.condition : 'amqp:internal-error';
  const description = error instanceof Error ? error.message : String(error);
  link.close({ condition, description });
};

/** One client connection: its `$cbs` grants, its reply links, its receive links. Returns what forgets them all. */
export function serveConnection(connection: Connection, broker: BrokerContext): () => void {
  const authorizations = new ConnectionAuthorizations(broker.authority, broker.host);
  const replyLinks = new Map<string, Sender>();
  const consumers = new Map<Sender, Consumer>();

  const reply = (request: Message, response: Message): void => {
    const to = String(request.reply_to ?? '');
    const link = replyLinks.get(to);
    if (!link?.is_open()) return;
    // A reply needs no outcome: sent settled, so that rhea frees it. Unsettled replies stayed in the
    // session's 2,048 outgoing deliveries for good, and the 2,049th request on a link got no answer
    // (a full credit window's automatic lock renewals reach that within minutes).
    link.send(response).update(true);
  };

  connection.on('sender_open', (context: EventContext) => {
    const link = context.sender as Sender;
    answerAttach(link, MAX_MESSAGE_SIZE);
    const address = sourceAddress(link);
    if (address === '$cbs' || isManagement(address)) {
      replyLinks.set(link.name, link);
      const target = (remoteAttach(link).target as { address?: string } | undefined)?.address;
      if (target) replyLinks.set(target, link);
      return;
    }
    try {
      const resolved = broker.namespace.resolve(address);
      authorizations.demand(address, resolved, 'Listen');
      if (!resolved.source) {
        throw new BrokerFault(
          'amqp:not-allowed',
          `Cannot receive from topic '${address}'.${trackingSuffix()}`,
          400,
        );
      }
      const peekLock = remoteAttach(link).snd_settle_mode !== 1;
      consumers.set(link, new Consumer(link, resolved.source, peekLock, broker.faults));
    } catch (error: unknown) {
      refuse(link, error);
    }
  });

  connection.on('receiver_open', (context: EventContext) => {
    const link = context.receiver as Receiver;
    answerAttach(link, MAX_MESSAGE_SIZE);
    const address = targetAddress(link);
    if (address === '$cbs' || isManagement(address)) return;
    try {
      const resolved = broker.namespace.resolve(address);
      authorizations.demand(address, resolved, 'Send');
      if (!resolved.target) {
        throw new BrokerFault('amqp:not-allowed', `Cannot send to '${address}'.${trackingSuffix()}`, 400);
      }
    } catch (error: unknown) {
      refuse(link, error);
    }
  });

  connection.on('message', (context: EventContext) => {
    const link = context.receiver as Receiver;
    const delivery = context.delivery;
    const address = targetAddress(link);
    const request = context.message as Message;
    if (address === '$cbs') {
      delivery?.accept();
      reply(request, answerCbs(request, broker.authority, authorizations, broker.faults));
      return;
    }
    if (isManagement(address)) {
      delivery?.accept();
      reply(request, answerManagement(request, address, broker.namespace, authorizations, broker.operations));
      return;
    }
    try {
      const target = broker.namespace.resolve(address).target;
      if (!target) throw new BrokerFault('amqp:not-allowed', `Cannot send to '${address}'.`, 400);
      const format = (context as { format?: number }).format;
      const payload = context.message as Message | Buffer;
      // The limit announced on attach is enforced too, as Service Bus refuses an oversized transfer.
      const size = Buffer.isBuffer(payload) ? payload.length : encodeMessage(payload).length;
      if (size > MAX_MESSAGE_SIZE) {
        throw new BrokerFault(
          'amqp:link:message-size-exceeded',
          `The received message (size: ${size} bytes) exceeds the limit (${MAX_MESSAGE_SIZE} bytes) currently allowed on the link.${trackingSuffix()}`,
          400,
        );
      }
      for (const message of decodeTransfer(payload, format)) target.send(message);
      delivery?.accept();
    } catch (error: unknown) {
      const condition = isBrokerFault(error) ? error.condition : 'amqp:internal-error';
      delivery?.reject({ condition, description: error instanceof Error ? error.message : String(error) });
    }
  });

  const forget = (link: Sender | undefined): void => {
    if (!link) return;
    consumers.get(link)?.close();
    consumers.delete(link);
    for (const [key, value] of replyLinks) if (value === link) replyLinks.delete(key);
  };
  connection.on('sender_close', (context: EventContext) => forget(context.sender));
  connection.on('receiver_close', () => {});
  connection.on('session_close', (context: EventContext) => {
    for (const link of [...consumers.keys()]) if (link.session === context.session) forget(link);
  });
  const forgetAll = (): void => {
    for (const consumer of consumers.values()) consumer.close();
    consumers.clear();
    replyLinks.clear();
  };
  connection.on('disconnected', forgetAll);
  connection.on('connection_close', forgetAll);
  // A client that drops mid-frame is the fault under test, not a broker error.
  connection.on('error', () => {});
  connection.on('sender_error', () => {});
  connection.on('receiver_error', () => {});
  connection.on('session_error', () => {});
  connection.on('connection_error', () => {});
  return forgetAll;
}
