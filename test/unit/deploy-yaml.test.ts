import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig, loadSqlConfig, variables } from '../../src/config.ts';

// The app and job definitions as `az containerapp create --yaml` reads them, checked against the
// worker's own config schema once provisioning's placeholders are filled with values of their kind.
const read = (name: string) => readFileSync(new URL(`../../${name}`, import.meta.url), 'utf8');

const sample = (name: string): string => {
  if (name.endsWith('_CLIENT_ID')) return `00000000-0000-4000-8000-${String(name.length).padStart(12, '0')}`;
  if (name.endsWith('_IDENTITY_ID'))
    return `/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name.toLowerCase()}`;
  if (name === 'ENVIRONMENT_ID')
    return '/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/managedEnvironments/env';
  if (name === 'LOCATION') return 'westeurope';
  return name.toLowerCase().replace(/_/g, '-');
};
const fill = (text: string) => text.replace(/\$\{([A-Z_]+)\}/g, (_m, name: string) => sample(name));

type Container = {
  image: string;
  command?: string[];
  env: { name: string; value?: string; secretRef?: string }[];
  resources: { cpu: number; memory: string };
  probes?: { type: string; httpGet: { path: string; port: number } }[];
};
type AppSpec = {
  identity: { type: string; userAssignedIdentities: Record<string, object> };
  properties: {
    configuration: {
      secrets?: unknown;
      identitySettings?: { identity: string; lifecycle: string }[];
      registries: { server: string; identity: string }[];
      triggerType?: string;
    };
    template: {
      terminationGracePeriodSeconds?: number;
      containers: Container[];
      scale?: {
        minReplicas: number;
        maxReplicas: number;
        rules: { custom: { type: string; identity: string; metadata: Record<string, string> } }[];
      };
    };
  };
};

const appText = read('containerapp.yaml');
const app = parse(fill(appText)) as AppSpec;
const job = parse(fill(read('containerapp.migrate-job.yaml'))) as AppSpec;
const [worker] = app.properties.template.containers as [Container];
const envOf = (c: Container) => Object.fromEntries(c.env.map((e) => [e.name, e.value]));

/** Container Apps' CPU/memory pairs: 0.25 to 4 vCPU in steps of 0.25, with twice as many GiB. */
const validPair = ({ cpu, memory }: Container['resources']) =>
  cpu >= 0.25 && cpu <= 4 && Number.isInteger(cpu / 0.25) && memory === `${cpu * 2}Gi`;

describe('containerapp.yaml', () => {
  it('sets only variables the worker knows, every required one, each valid', () => {
    const env = envOf(worker);
    expect(Object.keys(env).filter((k) => !(k in variables))).toEqual([]);
    expect(() => loadConfig(env)).not.toThrow();
  });

  it('holds no secret, no secret reference and no connection string', () => {
    expect(app.properties.configuration.secrets).toBeUndefined();
    expect(worker.env.filter((e) => e.secretRef !== undefined || e.value === undefined)).toEqual([]);
    expect(appText).not.toMatch(/SharedAccessKey|Password\s*=|AccountKey|connectionString/i);
  });

  it("runs the code as the worker's user-assigned identity, whose client id AZURE_CLIENT_ID names", () => {
    expect(app.identity.type).toBe('UserAssigned');
    expect(envOf(worker).AZURE_CLIENT_ID).toBe(sample('WORKER_CLIENT_ID'));
    const ids = Object.keys(app.identity.userAssignedIdentities);
    expect(ids).toEqual([sample('WORKER_IDENTITY_ID'), sample('SCALER_IDENTITY_ID')]);
    expect(app.properties.configuration.identitySettings).toEqual([
      { identity: sample('WORKER_IDENTITY_ID'), lifecycle: 'Main' },
      { identity: sample('SCALER_IDENTITY_ID'), lifecycle: 'None' },
    ]);
    expect(app.properties.configuration.registries.map((r) => r.identity)).toEqual([
      sample('WORKER_IDENTITY_ID'),
    ]);
  });

  it('scales on the queue through KEDA as the separate scaler identity, never below one replica', () => {
    const scale = app.properties.template.scale;
    expect(scale?.minReplicas).toBeGreaterThanOrEqual(1);
    expect(scale?.maxReplicas).toBeGreaterThan(scale?.minReplicas ?? 0);
    const [rule] = scale?.rules ?? [];
    expect(rule?.custom.type).toBe('azure-servicebus');
    expect(rule?.custom.identity).toBe(sample('SCALER_IDENTITY_ID'));
    expect(rule?.custom.identity).not.toBe(sample('WORKER_IDENTITY_ID'));
    const env = envOf(worker);
    expect(rule?.custom.metadata).toMatchObject({
      namespace: env.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE?.split('.')[0],
      queueName: env.SERVICEBUS_QUEUE,
    });
    expect(rule?.custom.metadata.messageCount).toMatch(/^\d+$/);
  });

  it('gives the platform more time to stop a replica than the worker takes to drain', () => {
    const grace = app.properties.template.terminationGracePeriodSeconds ?? 30;
    expect(grace * 1000).toBeGreaterThan(loadConfig(envOf(worker)).shutdownGraceMs);
  });

  it('asks for a valid CPU/memory pair and probes the HTTP port for startup, liveness and readiness', () => {
    expect(validPair(worker.resources)).toBe(true);
    expect(worker.probes?.map((p) => [p.type, p.httpGet.path, p.httpGet.port])).toEqual([
      ['Startup', '/healthz', 8080],
      ['Liveness', '/healthz', 8080],
      ['Readiness', '/readyz', 8080],
    ]);
  });
});

describe('containerapp.migrate-job.yaml', () => {
  const [migrate] = job.properties.template.containers as [Container];

  it('runs migrate by hand from the same image, as the operator identity', () => {
    expect(job.properties.configuration.triggerType).toBe('Manual');
    expect(migrate.image).toBe(worker.image);
    expect(migrate.command).toEqual(['node', 'dist/scripts/migrate.js']);
    expect(Object.keys(job.identity.userAssignedIdentities)).toEqual([sample('OPERATOR_IDENTITY_ID')]);
    expect(envOf(migrate).AZURE_CLIENT_ID).toBe(sample('OPERATOR_CLIENT_ID'));
    expect(validPair(migrate.resources)).toBe(true);
  });

  it('sets valid SQL settings and no other variable the worker does not know', () => {
    const env = envOf(migrate);
    expect(Object.keys(env).filter((k) => !(k in variables))).toEqual([]);
    expect(() => loadSqlConfig(env)).not.toThrow();
  });
});

describe('containerapp.doctor-job.yaml', () => {
  const doctorJob = parse(fill(read('containerapp.doctor-job.yaml'))) as AppSpec;
  const [doctor] = doctorJob.properties.template.containers as [Container];

  it("runs the doctor by hand from the same image, as the worker's identity, with the app's settings", () => {
    expect(doctorJob.properties.configuration.triggerType).toBe('Manual');
    expect(doctor.image).toBe(worker.image);
    expect(doctor.command).toEqual(['node', 'dist/scripts/doctor.js', '--as', 'worker']);
    expect(Object.keys(doctorJob.identity.userAssignedIdentities)).toEqual([sample('WORKER_IDENTITY_ID')]);
    expect(doctorJob.properties.configuration.registries.map((r) => r.identity)).toEqual([
      sample('WORKER_IDENTITY_ID'),
    ]);
    // What the doctor tries is what the worker will do: the same settings, variable for variable.
    expect(envOf(doctor)).toEqual(envOf(worker));
    expect(validPair(doctor.resources)).toBe(true);
  });
});

describe('every spec deploy.sh applies', () => {
  it.each(['containerapp.yaml', 'containerapp.migrate-job.yaml', 'containerapp.doctor-job.yaml'])(
    '%s carries the keyless-spec tag that tells deploy.sh whether Azure has it already',
    (name) => {
      expect((parse(fill(read(name))) as { tags?: Record<string, string> }).tags).toEqual({
        'keyless-spec': sample('SPEC_HASH'),
      });
    },
  );
});
