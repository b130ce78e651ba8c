// The SDK floor: the same @azure/service-bus, credit window, lock renewal and raw bodies as the
// worker (the bench sets SERVICEBUS_CONCURRENCY for both), receiving and completing each message with nothing in between. Run by `npm run bench`
// as its own process, so that its CPU time can be read from /proc like the worker's.
import { ManagedIdentityCredential } from '@azure/identity';
import { ServiceBusClient } from '@azure/service-bus';
import { defaults } from '../../src/defaults.ts';

const env = process.env;
const client = new ServiceBusClient(
  env.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE ?? '',
  new ManagedIdentityCredential({ clientId: env.AZURE_CLIENT_ID ?? '' }),
);
const receiver = client.createReceiver(env.SERVICEBUS_QUEUE ?? '', {
  receiveMode: 'peekLock',
  maxAutoLockRenewalDurationInMs: Number(env.SERVICEBUS_LOCK_RENEWAL_MAX_MS ?? 300_000),
  skipParsingBodyAsJson: true,
});
receiver.subscribe(
  {
    processMessage: (message) => receiver.completeMessage(message),
    processError: async ({ error }) => console.error(`floor receive error: ${String(error)}`),
  },
  {
    autoCompleteMessages: false,
    maxConcurrentCalls: Number(env.SERVICEBUS_CONCURRENCY ?? defaults.serviceBusConcurrency),
  },
);
console.log('"msg":"worker running"');
process.on('SIGTERM', () => {
  void receiver
    .close()
    .then(() => client.close())
    .finally(() => process.exit(0));
});
