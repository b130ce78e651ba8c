import type { AddressInfo, Socket } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
import rhea, { type Connection, type ConnectionOptions, type SenderOptions } from 'rhea';
import type { LocalCa } from '../ca.ts';
import type { Authority } from '../identity.ts';
import { type BrokerContext, serveConnection } from './connection-handler.ts';
import { createFaults } from './faults.ts';
import { createManagementOperations } from './management.ts';
import type { Completion, EntityCounts, EntityOptions, MessageSnapshot, SettleOutcome } from './model.ts';
import { Namespace } from './namespace.ts';

export type { Completion, EntityCounts, EntityOptions, MessageSnapshot } from './model.ts';

export type ServiceBusStandInOptions = {
  authority: Authority;
  ca: LocalCa;
  /** @defaultValue 'keyless-local' */
  namespace?: string;
  /** ARM id of the namespace; entity scopes are `${id}/queues/<q>` and `${id}/topics/<t>`. */
  namespaceResourceId: string;
  /** @defaultValue 0 (any free port) */
  port?: number;
};

export type ServiceBusStandIn = {
  port: number;
  /** `sb://localhost:PORT` */
  endpoint: string;
  /** `localhost:PORT`: what a ServiceBusClient is given so that TLS goes to the stand-in. */
  fullyQualifiedNamespace: string;
  /** `<namespace>.servicebus.windows.net`, the name the namespace has in Azure. */
  azureNamespace: string;
  createQueue(name: string, options?: EntityOptions): void;
  createTopic(name: string, options?: EntityOptions): void;
  createSubscription(topic: string, name: string, options?: EntityOptions): void;
  /** Entity path: `queue` or `topic/Subscriptions/sub`. */
  counts(entityPath: string): EntityCounts;
  deadLetters(entityPath: string): MessageSnapshot[];
  messages(entityPath: string): MessageSnapshot[];
  /** Message ids completed on the entity, in order (a second completion of one id would show twice). */
  completedMessageIds(entityPath: string): readonly string[];
  /** Completions on the entity, in order, each with the delivery that completed it (1: the first). */
  completions(entityPath: string): readonly Completion[];
  /** Defer dispositions the entity took, on the receive link or by update-disposition. */
  deferrals(entityPath: string): number;
  /** Client connections currently open (0 once every client is closed). */
  openConnections(): number;
  /** Closes every client connection abruptly (socket destroyed, no AMQP close). */
  dropConnections(): void;
  /** The next `count` put-tokens are answered 401 (0 clears). */
  refuseTokens(count: number): void;
  /**
   * The next `count` settlements (link dispositions and update-disposition), or only those of
   * outcome `only`, fail with message-lock-lost (0 clears).
   */
  failSettlements(count: number, kind: 'lock-lost', only?: SettleOutcome['kind']): void;
  /** Injected settlement failures not consumed yet. */
  settlementFailuresLeft(): number;
  /** Receive links open now stop delivering, while staying attached; links attached later work. */
  stallReceivers(): void;
  /** Delay before each link disposition is answered. */
  setSettlementLatency(ms: number): void;
  close(): Promise<void>;
};

/**
 * Azure Service Bus as the real @azure/service-bus SDK sees it: AMQP 1.0 over TLS with `$cbs`
 * token checks and RBAC, peek-lock, `$management` operations, dead-lettering, in memory.
 */
export async function startServiceBusStandIn(options: ServiceBusStandInOptions): Promise<ServiceBusStandIn> {
  const azureNamespace = `${options.namespace ?? 'keyless-local'}.servicebus.windows.net`;
  const faults = createFaults();
  const container = rhea.create_container({ id: azureNamespace });
  container.sasl_server_mechanisms.enable_anonymous();
  // The SDK offers PLAIN only with SAS keys; accept it as Service Bus does, the token decides.
  container.sasl_server_mechanisms.enable_plain(() => true);
  container.on('error', () => {});
  const sockets = new Set<Socket>();
  const { certPem, keyPem } = options.ca.issue(['localhost', '127.0.0.1']);
  const server = createServer({ cert: certPem, key: keyPem });
  let broker: BrokerContext | undefined;
  let connectionCount = 0;

  server.on('secureConnection', (socket: TLSSocket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (!broker) return;
    const connection = container.create_connection({
      id: `${azureNamespace}-${++connectionCount}`,
      container_id: azureNamespace,
      // Without this rhea reports a modified outcome (abandon, defer) as released too.
      sender_options: { autosettle: false, treat_modified_as_released: false } as SenderOptions,
      receiver_options: { autoaccept: false },
      idle_time_out: 0,
    } as ConnectionOptions) as Connection & { accept(socket: Socket): void };
    const forget = serveConnection(connection, broker);
    // rhea hears of a peer that went away ('end'), not of a socket closed here (dropConnections):
    // its links must stop taking messages all the same, as a broker's do when a connection dies.
    socket.on('close', forget);
    connection.accept(socket);
  });
  server.on('tlsClientError', () => {});

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = `localhost:${port}`;
  const namespace = new Namespace(host, options.namespaceResourceId);
  broker = {
    namespace,
    authority: options.authority,
    faults,
    host,
    operations: createManagementOperations(faults),
  };
  let closed: Promise<void> | undefined;

  return {
    port,
    endpoint: `sb://${host}`,
    fullyQualifiedNamespace: host,
    azureNamespace,
    createQueue: (name, entityOptions) => namespace.createQueue(name, entityOptions),
    createTopic: (name, entityOptions) => namespace.createTopic(name, entityOptions),
    createSubscription: (topic, name, entityOptions) =>
      namespace.createSubscription(topic, name, entityOptions),
    counts: (path) => namespace.entity(path).counts(),
    deadLetters: (path) => namespace.entity(path).deadLetterQueue?.snapshots() ?? [],
    messages: (path) => namespace.entity(path).snapshots(),
    completedMessageIds: (path) => namespace.entity(path).completedMessageIds(),
    completions: (path) => namespace.entity(path).completions(),
    deferrals: (path) => namespace.entity(path).deferrals(),
    openConnections: () => sockets.size,
    dropConnections() {
      for (const socket of sockets) socket.destroy();
    },
    refuseTokens(count) {
      faults.refuseTokens = count;
    },
    settlementFailuresLeft: () => faults.failSettlements,
    failSettlements(count, _kind, only) {
      faults.failSettlements = count;
      faults.failSettlementsOf = only;
    },
    stallReceivers() {
      faults.stallGeneration += 1;
    },
    setSettlementLatency(ms) {
      faults.settlementLatencyMs = ms;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        namespace.close();
        server.close(() => resolve());
      });
      return closed;
    },
  };
}
