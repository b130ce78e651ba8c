// npm run stack: every local stand-in in one process that other processes share through .local/.
import { startLocalStack } from '../test/stand-ins/stack.ts';
import { defineCommand, runCommand } from './lib/cli.ts';
import { findLocalStack, stackDir } from './lib/local-stack.ts';

runCommand(
  defineCommand({
    name: 'stack',
    usage: 'npm run stack',
    about:
      'Every local stand-in (identity, Key Vault, Service Bus, Azure SQL, and Redis when one can be had)\n' +
      'in one process, which other processes share through .local/stack.json and .local/stack.env.\n' +
      'Ctrl-C stops it.',
    flags: {},
    parse: () => undefined,
  }),
);

const running = findLocalStack();
if (running) {
  console.error(
    `A local stack already runs (pid ${running.pid}); see ${stackDir}/stack.json. Stop it first.`,
  );
  process.exit(1);
}

const stack = await startLocalStack({ dir: stackDir });
const { file } = stack;
console.log(`local stack ready (pid ${process.pid})
  identity endpoint  ${file.identityEndpoint}
  service bus        ${file.serviceBus.endpoint}  queue ${file.serviceBus.queue}
  key vault          ${file.keyVault.url}
  azure sql          ${file.sql.server}:${file.sql.port}  database ${file.sql.database}
  redis              ${file.redisUrl ?? '(none)'}
  identities         ${Object.entries(file.identities)
    .map(([k, v]) => `${k}=${v.clientId}`)
    .join('  ')}
  files              ${stackDir}/stack.json, stack.env, ca.pem
publish: npm run publish -- --count 1000     stop: Ctrl-C`);

let stopping = false;
const stop = (signal: string) => {
  if (stopping) {
    console.error('forced exit');
    process.exit(1);
  }
  stopping = true;
  console.log(`${signal}: stopping the stack`);
  void stack.close().then(() => process.exit(0));
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
