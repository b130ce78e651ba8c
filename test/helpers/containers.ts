import { randomBytes } from 'node:crypto';
import type { StartedAzureServiceBusContainer } from '@testcontainers/azureservicebus';
import type { StartedMSSQLServerContainer } from '@testcontainers/mssqlserver';
import type { StartedRedisContainer } from '@testcontainers/redis';
import type { TestProject } from 'vitest/node';

/**
 * Real services in containers for `TEST_TARGET=containers` (vitest global setup: started once per
 * run, shared by every test file through `inject('containers')`). Without a container runtime the
 * tier says in one line why it is skipped, and the tests run against the stand-ins as by default.
 */
export type ContainerServices = {
  sql: { host: string; port: number; user: string; password: string };
  /** The emulator has no Entra ID: it takes its documented connection string only. */
  serviceBus: { connectionString: string; queues: readonly string[] };
  redis: { url: string };
};

declare module 'vitest' {
  export interface ProvidedContext {
    containers: ContainerServices | null;
  }
}

export const sqlServerImage = 'mcr.microsoft.com/mssql/server:2022-latest';
export const serviceBusEmulatorImage = 'mcr.microsoft.com/azure-messaging/servicebus-emulator:latest';
export const redisImage = 'redis:7-alpine';
/** The emulator creates no entity at run time: the queues the tests use are declared up front. */
export const emulatorQueues = Array.from({ length: 8 }, (_, i) => `target-${i + 1}`);

const emulatorConfig = () =>
  JSON.stringify({
    UserConfig: {
      Namespaces: [
        {
          Name: 'sbemulatorns',
          Queues: emulatorQueues.map((Name) => ({
            Name,
            Properties: {
              DeadLetteringOnMessageExpiration: false,
              DefaultMessageTimeToLive: 'PT1H',
              DuplicateDetectionHistoryTimeWindow: 'PT20S',
              ForwardDeadLetteredMessagesTo: '',
              ForwardTo: '',
              LockDuration: 'PT30S',
              MaxDeliveryCount: 10,
              RequiresDuplicateDetection: false,
              RequiresSession: false,
            },
          })),
          Topics: [],
        },
      ],
      Logging: { Type: 'File' },
    },
  });

let started: {
  sql?: StartedMSSQLServerContainer;
  bus?: StartedAzureServiceBusContainer;
  redis?: StartedRedisContainer;
} = {};

/** Why no container can run here, or undefined when a runtime answers. */
async function runtimeProblem(): Promise<string | undefined> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return undefined;
  } catch (error: unknown) {
    return error instanceof Error ? error.message : String(error);
  }
}

export async function setup(project: TestProject): Promise<void> {
  project.provide('containers', null);
  if (process.env.TEST_TARGET !== 'containers') return;
  const problem = await runtimeProblem();
  if (problem) {
    console.log(
      `[containers] tier skipped: TEST_TARGET=containers but no container runtime answers (${problem}); the tests run on the stand-ins`,
    );
    return;
  }
  // Loaded only here: the default run needs none of the container libraries.
  const [{ MSSQLServerContainer }, { AzureServiceBusContainer }, { RedisContainer }] = await Promise.all([
    import('@testcontainers/mssqlserver'),
    import('@testcontainers/azureservicebus'),
    import('@testcontainers/redis'),
  ]);
  // A password made for this run: the container is local and gone when the run ends.
  const password = `Kw1!${randomBytes(12).toString('base64url')}`;
  const results = await Promise.allSettled([
    new MSSQLServerContainer(sqlServerImage).acceptLicense().withPassword(password).start(),
    new AzureServiceBusContainer(serviceBusEmulatorImage)
      .acceptLicense()
      .withConfig(emulatorConfig())
      .start(),
    new RedisContainer(redisImage).start(),
  ] as const);
  const [sqlResult, busResult, redisResult] = results;
  started = {
    ...(sqlResult.status === 'fulfilled' && { sql: sqlResult.value }),
    ...(busResult.status === 'fulfilled' && { bus: busResult.value }),
    ...(redisResult.status === 'fulfilled' && { redis: redisResult.value }),
  };
  const failed = results.find((r) => r.status === 'rejected');
  if (failed || !started.sql || !started.bus || !started.redis) {
    // One that did not start stops the others: nothing is left running after a failed setup.
    await teardown();
    throw failed?.reason ?? new Error('a container did not start');
  }
  const { sql, bus, redis } = started;
  console.log(`[containers] running: ${sqlServerImage}, ${serviceBusEmulatorImage}, ${redisImage}`);
  project.provide('containers', {
    sql: { host: sql.getHost(), port: sql.getPort(), user: sql.getUsername(), password: sql.getPassword() },
    serviceBus: { connectionString: bus.getConnectionString(), queues: emulatorQueues },
    redis: { url: redis.getConnectionUrl() },
  });
}

export async function teardown(): Promise<void> {
  const { sql, bus, redis } = started;
  started = {};
  await Promise.allSettled([sql?.stop(), bus?.stop(), redis?.stop()]);
}
