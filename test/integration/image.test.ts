import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assembleStage,
  linkWorkTreeModules,
  readStages,
  type Stage,
  sh,
} from '../helpers/dockerfile-image.ts';

// No Docker engine here: the image's file system is assembled from what the Dockerfile itself
// copies and runs (read with dockerfile-ast), then the worker and each operator script are started
// from it as the container would start them, with no devDependency and no test/ file present.
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  devDependencies: Record<string, string>;
};
const stages = readStages();
const runtime = stages.at(-1) as Stage;
let work: string;
let image: string;

const walk = (dir: string, base = ''): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() && e.name !== 'node_modules'
      ? walk(join(dir, e.name), `${base}${e.name}/`)
      : e.isDirectory()
        ? []
        : [`${base}${e.name}`],
  );

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'keyless-image-'));
  const assembled = new Map<string, string>();
  for (const [i, stage] of stages.entries()) {
    const dir = join(work, stage.name ?? `stage-${i}`);
    const last = i === stages.length - 1;
    assembleStage(stage, dir, {
      stages: assembled,
      run: (command, cwd) => {
        if (!last && /^npm ci\b/.test(command)) linkWorkTreeModules(cwd);
        else sh(command, cwd);
      },
    });
    if (stage.name) assembled.set(stage.name, dir);
  }
  image = join(work, runtime.name ?? `stage-${stages.length - 1}`);
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const imageEnv = (): Record<string, string> => {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: tmpdir(),
    // A closed loopback port: a process that asked for a token before checking its settings fails
    // here (and the test with it), never by reaching for the instance metadata address.
    IDENTITY_ENDPOINT: 'http://127.0.0.1:9/msi/token',
    IDENTITY_HEADER: 'image-test',
  };
  for (const i of runtime.instructions.filter((x) => x.keyword === 'ENV')) {
    const [name, value] = i.line.split('=');
    if (name && value !== undefined) env[name.trim()] = value.trim();
  }
  return env;
};

const start = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, args, {
    cwd: image,
    env: { ...imageEnv(), ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });

describe('the image the Dockerfile describes', () => {
  it('is multi-stage on a pinned Node 24 base, runs as a non-root user and starts the worker with node', () => {
    const text = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/ARG NODE_IMAGE=node:24\.\d+\.\d+-/);
    const user = runtime.instructions.find((i) => i.keyword === 'USER');
    expect(user?.args[0]).toBe('node');
    const cmd = runtime.instructions.find((i) => i.keyword === 'CMD');
    expect(cmd?.line).toBe('["node", "dist/src/main.js"]');
    expect(runtime.instructions.some((i) => i.keyword === 'RUN' && /npm ci --omit=dev/.test(i.line))).toBe(
      true,
    );
  });

  it("builds without downloading a second Node: the build stage's npm ci runs no install script, and none it skips is needed to compile", () => {
    const build = stages[0] as Stage;
    const install = build.instructions.find((i) => i.keyword === 'RUN' && /^npm ci\b/.test(i.line));
    expect(install?.line).toMatch(/--ignore-scripts/);
    const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8')) as {
      packages: Record<string, { hasInstallScript?: boolean }>;
    };
    // The skipped script that mattered is the Node download; the compile (tsc, then node) needs no other.
    expect(lock.packages['node_modules/node']?.hasInstallScript).toBe(true);
    expect(lock.packages['node_modules/typescript']?.hasInstallScript).toBeFalsy();
  });

  it('holds the compiled worker, the operator scripts and the .sql files, and no test, stand-in or local file', () => {
    const files = walk(image);
    for (const f of [
      'dist/src/main.js',
      'dist/scripts/migrate.js',
      'dist/scripts/doctor.js',
      'dist/scripts/publish.js',
      'dist/scripts/reprocess.js',
    ])
      expect(files).toContain(f);
    expect(files.filter((f) => f.endsWith('.sql')).length).toBeGreaterThan(5);
    expect(files.filter((f) => /(^|\/)(test|\.local|stand-ins)\//.test(f) || f.endsWith('.ts'))).toEqual([]);
    expect(files.filter((f) => /local-stack|stack\.js|start\.js|bench\.js|fault\.js/.test(f))).toEqual([]);
  });

  it('has production dependencies only: no package the lockfile marks as needed for development alone', () => {
    const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const installed = readdirSync(join(image, 'node_modules')).flatMap((n) =>
      n.startsWith('@') ? readdirSync(join(image, 'node_modules', n)).map((m) => `${n}/${m}`) : [n],
    );
    const devOnly = installed.filter((n) => lock.packages[`node_modules/${n}`]?.dev === true);
    expect(devOnly).toEqual([]);
    for (const tool of [
      'typescript',
      'vitest',
      '@biomejs/biome',
      'node',
      '@electric-sql/pglite',
      'node-forge',
    ])
      expect(installed).not.toContain(tool);
    expect(Object.keys(pkg.devDependencies)).toContain('vitest');
    expect(installed).toContain('@azure/service-bus');
  });

  it.each([
    ['the worker', ['dist/src/main.js']],
    ['migrate', ['dist/scripts/migrate.js']],
    ['doctor', ['dist/scripts/doctor.js', '--as', 'worker']],
    ['publish', ['dist/scripts/publish.js', '--count', '1']],
    ['sql', ['dist/scripts/sql.js', 'SELECT 1']],
    ['reprocess', ['dist/scripts/reprocess.js', 'dlq', '--dry-run']],
  ])('starts %s from the image and stops it with exit 78 naming the missing variable', (_name, args) => {
    const { status, stderr, stdout } = start(args);
    const output = `${stdout}${stderr}`;
    expect(output).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find (module|package)/);
    expect(status, output).toBe(78);
    expect(output).toMatch(/(SERVICEBUS_FULLY_QUALIFIED_NAMESPACE|SQL_SERVER): is required but not set/);
  });

  it('starts the worker from the image with a bad setting and names it', () => {
    const { status, stderr } = start(['dist/src/main.js'], {
      SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: 'ns.servicebus.windows.net',
      SERVICEBUS_QUEUE: 'orders',
      SQL_SERVER: 'db.database.windows.net',
      SQL_DATABASE: 'keyless',
      SQL_AUTH: 'password',
    });
    expect(status).toBe(78);
    expect(stderr).toContain("SQL_AUTH: 'password' is for local SQL Server only");
  });
});
