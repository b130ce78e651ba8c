// npm start: the whole pipeline on this machine. Services configured in the environment are used
// as they are; every other one is a local stand-in (a running `npm run stack` is reused). Then the
// migrations run as the operator identity and the worker runs as its own process, as the worker
// identity, through the same code paths as in Azure.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { variables } from '../src/config.ts';
import { formatLogLine } from '../src/log-format.ts';
import { type LocalStack, startLocalStack } from '../test/stand-ins/stack.ts';
import { caBundleFor } from '../test/stand-ins/tls-trust.ts';
import { defineCommand, runCommand } from './lib/cli.ts';
import { findLocalStack, stackDir } from './lib/local-stack.ts';
import {
  createStatusLine,
  formatStatus,
  formatTotals,
  type PipelineStatus,
  readStatus,
} from './lib/status-line.ts';

runCommand(
  defineCommand({
    name: 'start',
    usage: 'npm start',
    about:
      'The whole pipeline on this machine: a local stand-in for every service not configured in the\n' +
      'environment (a running `npm run stack` is reused), the migrations as the operator, then the worker\n' +
      'as its own process, as the worker identity; its ops endpoints on 127.0.0.1 only. A status line\n' +
      'shows the figures; Ctrl-C drains the worker and stops everything, a second Ctrl-C forces it.',
    flags: {},
    parse: () => undefined,
  }),
);

const root = new URL('..', import.meta.url).pathname;
// A person at a terminal reads short coloured lines and a live status line; a pipe gets the JSON as is.
const onTerminal = process.stdout.isTTY === true;
const statusLine = createStatusLine(process.stderr, process.stdout);
const show = (line: string) => statusLine.print(onTerminal ? formatLogLine(line, { color: true }) : line);
const say = (line: string) =>
  process.stderr.isTTY ? statusLine.print(`[start] ${line}`) : console.error(`[start] ${line}`);

/** Runs a script or the worker as a child process on this Node. */
const run = (script: string, env: NodeJS.ProcessEnv): ChildProcess =>
  // Its own process group: Ctrl-C in a terminal reaches every process of the foreground group, and
  // the worker would take our forwarded SIGTERM for a second signal and skip draining.
  spawn(process.execPath, [script], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'], detached: true });

let owned: LocalStack | undefined;
const running = findLocalStack();
if (running) {
  say(`using the local stack already running (pid ${running.pid})`);
} else {
  say('starting the local stand-ins: identity, Key Vault, Service Bus, Azure SQL');
  owned = await startLocalStack({ dir: stackDir });
}
const stack = running ?? (owned as LocalStack).file;

// The stack's settings, then whatever the environment sets itself: a configured service wins.
const fromStack: Record<string, string> = {
  IDENTITY_ENDPOINT: stack.identityEndpoint,
  IDENTITY_HEADER: stack.identityHeader,
  AZURE_CLIENT_ID: stack.identities.worker.clientId,
  // The stack's CA beside the one the user trusts already (a SQL Server container's, a proxy's).
  NODE_EXTRA_CA_CERTS: caBundleFor({
    stackCaPath: stack.caCertPath,
    userCaPath: process.env.NODE_EXTRA_CA_CERTS,
    dir: stackDir,
  }),
  KEY_VAULT_URL: stack.keyVault.url,
  KEY_VAULT_SECRETS: stack.keyVault.secrets.join(','),
  SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: stack.serviceBus.fullyQualifiedNamespace,
  SERVICEBUS_QUEUE: stack.serviceBus.queue,
  SQL_SERVER: stack.sql.server,
  SQL_PORT: String(stack.sql.port),
  SQL_DATABASE: stack.sql.database,
  ...(stack.redisUrl ? { REDIS_URL: stack.redisUrl } : {}),
  // A developer's laptop: /metrics and the probes for this machine only (the image listens on all).
  HTTP_HOST: '127.0.0.1',
};
const configured = Object.fromEntries(
  Object.keys(variables)
    .concat(['IDENTITY_ENDPOINT', 'IDENTITY_HEADER'])
    .filter((k) => process.env[k])
    .map((k) => [k, process.env[k] as string]),
);
if (Object.keys(configured).length > 0) say(`from the environment: ${Object.keys(configured).join(', ')}`);
const workerEnv = { ...process.env, ...fromStack, ...configured };

let worker: ChildProcess | undefined;
let stopping = false;
const shutdown = async (code: number): Promise<never> => {
  await owned?.close();
  process.exit(code);
};
const stop = (signal: NodeJS.Signals) => {
  if (stopping) {
    say('second signal: forcing the exit');
    worker?.kill('SIGKILL');
    process.exit(130);
  }
  stopping = true;
  say(`${signal}: stopping the worker, then the stand-ins`);
  if (worker && worker.exitCode === null) worker.kill('SIGTERM');
  else void shutdown(0);
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('exit', () => {
  if (worker && worker.exitCode === null) worker.kill('SIGKILL');
});

// Migrations as the operator: the worker identity has no DDL rights, as in Azure.
const migrate = run('scripts/migrate.ts', { ...process.env, ...configured });
createInterface({ input: migrate.stdout as NodeJS.ReadableStream }).on('line', show);
const migrated = await new Promise<number | null>((resolve) => migrate.on('exit', resolve));
if (migrated !== 0) {
  say('migrations failed; see above');
  await shutdown(1);
}
if (stopping) await shutdown(0);

const httpPort = workerEnv.HTTP_PORT || '8080';
const metricsUrl = `http://127.0.0.1:${httpPort}/metrics`;
const startedAt = Date.now();
let last: PipelineStatus | undefined;
let ticker: NodeJS.Timeout | undefined;
/** Refreshes the status line about every second from the worker's own /metrics. */
const watch = (): void => {
  let previous: PipelineStatus | undefined;
  ticker = setInterval(() => {
    readStatus(metricsUrl).then(
      (status) => {
        last = status;
        if (process.stderr.isTTY) statusLine.show(formatStatus(status, previous));
        previous = status;
      },
      () => undefined, // Between the worker's exit and ours: the last figures stand.
    );
  }, 1_000);
};

worker = run('src/main.ts', workerEnv);
createInterface({ input: worker.stdout as NodeJS.ReadableStream }).on('line', (line) => {
  show(line);
  if (line.includes('"msg":"worker running"')) {
    say(
      `ready: the worker consumes ${stack.serviceBus.queue} as the worker identity (${stack.identities.worker.clientId})`,
    );
    say('publish:  npm run publish -- --count 1000');
    say('query:    npm run sql -- "SELECT COUNT(*) AS orders FROM dbo.Orders"');
    say(`probes:   curl 127.0.0.1:${httpPort}/readyz   metrics: curl 127.0.0.1:${httpPort}/metrics`);
    say('stop:     Ctrl-C');
    watch();
  }
});
worker.on('exit', (code, signal) => {
  clearInterval(ticker);
  statusLine.clear();
  if (last) say(formatTotals(last, startedAt));
  say(`worker exited (${signal ?? code})`);
  void shutdown(stopping ? 0 : (code ?? 1));
});
