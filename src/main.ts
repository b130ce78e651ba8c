// The one wiring point: environment → config → worker; signals; exit codes.
import { type ConfigError, loadConfig } from './config.ts';
import { loadHandlers } from './handlers/load.ts';
import { createHealth } from './http/health.ts';
import { createReadiness } from './http/readiness.ts';
import { createOpsServer } from './http/server.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics-registry.ts';
import { traceFields } from './telemetry/trace-context.ts';
import { startWorker } from './worker.ts';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(process.env);
} catch (error: unknown) {
  if (error instanceof Error && error.name === 'ConfigError') {
    console.error((error as ConfigError).message);
    process.exit(78); // EX_CONFIG: a bad setting, not a crash; the platform should not restart-loop silently.
  }
  throw error;
}

// A person at a terminal reads short lines; the platform's log collector reads JSON.
const onTerminal = process.stdout.isTTY === true;
const logger = createLogger(
  config.logLevel,
  {},
  { pretty: onTerminal, color: onTerminal, mixin: traceFields },
);
const metrics = createMetrics();
const readiness = createReadiness();
const health = createHealth();
const ops = createOpsServer({
  port: config.http.port,
  host: config.http.host,
  health,
  readiness,
  metrics,
  logger: logger.child({ component: 'http' }),
});
// Closed last: the probes and the final scrape see the drain.
const closeOps = async (): Promise<void> => {
  await ops.close();
  health.close();
};
const startAbort = new AbortController();

try {
  // Before the long start steps, so a startup probe watches them instead of timing out.
  await ops.start();
} catch (error: unknown) {
  console.error(
    `start failed: HTTP_PORT ${config.http.port} cannot be used: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(1);
}

const starting = loadHandlers(config.handlers).then((handlers) =>
  startWorker(config, { handlers, logger, signal: startAbort.signal, metrics, readiness }),
);
let signals = 0;

const onSignal = (signal: NodeJS.Signals): void => {
  signals += 1;
  if (signals > 1) {
    logger.warn({ signal }, 'second signal: exiting without waiting for in-flight messages');
    process.exit(130);
  }
  logger.info(
    { signal, graceMs: config.shutdownGraceMs },
    'shutting down: no new messages, draining in-flight ones',
  );
  startAbort.abort(new Error(`${signal} during start`));
  readiness.setDraining();
  // A signal during start: startWorker releases what it had acquired before it rejects, so wait for
  // it; if start got to the end anyway, close the worker it built.
  void starting
    .then(
      (worker) => worker.close(),
      () => [],
    )
    .then(async (failures) => {
      await closeOps();
      return failures;
    })
    .then(
      (failures) => {
        for (const f of failures) logger.error({ err: f.error, step: f.name }, 'a shutdown step failed');
        logger.info('stopped');
        process.exit(failures.length > 0 ? 1 : 0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
};
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);

try {
  await starting;
} catch (error: unknown) {
  // Stopped by a signal: its handler exits once the cleanup is done.
  if (!startAbort.signal.aborted) {
    await closeOps();
    logger.fatal({ err: error, code: (error as { code?: string }).code }, 'start failed');
    // The message also goes to stderr unformatted: it carries the fix (a role, a command) for a person.
    console.error(`start failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
