import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineHandler } from '../../src/handlers/handler.ts';
import { loadHandlers } from '../../src/handlers/load.ts';
import { createHandlerRegistry } from '../../src/handlers/registry.ts';
import { inboxMigrations } from '../../src/inbox/inbox.ts';
import { loadMigrations } from '../../src/sql/migrate.ts';
import { handlers as parcelHandlers } from '../fixtures/parcels/handlers.ts';

const folder = async (files: Record<string, string>): Promise<URL> => {
  const dir = await mkdtemp(join(tmpdir(), 'keyless-handler-'));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return pathToFileURL(`${dir}/`);
};

const handlerIn = (dir: URL, statements: string[] = ['insert-things'], type = 'com.example.thing') =>
  defineHandler({
    type,
    schema: z.object({ n: z.number() }),
    dir,
    statements,
    example: (n) => ({ n }),
    async write() {},
  });

describe('the handler list', () => {
  it('derives each type’s schema and reads each handler’s statements from its folder', async () => {
    const registry = createHandlerRegistry(parcelHandlers);
    expect([...registry.schemas.keys()]).toEqual([
      'com.example.fixture.parcel-registered',
      'com.example.fixture.parcel-status-changed',
    ]);
    expect(registry.has('com.example.fixture.parcel-registered')).toBe(true);
    expect(
      registry.schemas
        .get('com.example.fixture.parcel-registered')
        ?.safeParse(registry.example('com.example.fixture.parcel-registered', 3)).success,
    ).toBe(true);
  });

  it('needs the product’s migrations first, then each handler folder’s once', () => {
    const dirs = createHandlerRegistry(parcelHandlers).migrationDirs.map((u) => u.href);
    expect(dirs).toEqual([
      inboxMigrations.href,
      new URL('../fixtures/parcels/migrations/', import.meta.url).href,
    ]);
  });

  it('refuses a type registered twice, at start', () => {
    expect(() => createHandlerRegistry([...parcelHandlers, ...parcelHandlers])).toThrow(
      expect.objectContaining({
        code: 'DuplicateType',
        message: expect.stringContaining('registered twice'),
      }),
    );
  });

  it('refuses a handler whose statement file is missing, naming the file', async () => {
    const dir = await folder({ 'insert-things.sql': 'SELECT 1' });
    expect(() => createHandlerRegistry([handlerIn(dir, ['insert-things', 'update-things'])])).toThrow(
      expect.objectContaining({
        code: 'MissingStatement',
        message: expect.stringContaining('update-things.sql'),
      }),
    );
  });

  it('refuses an empty list and an entry not built with defineHandler', () => {
    expect(() => createHandlerRegistry([])).toThrow(expect.objectContaining({ code: 'NoHandlers' }));
    expect(() => createHandlerRegistry([{ type: 'x' }])).toThrow(
      expect.objectContaining({ code: 'InvalidHandler', message: expect.stringContaining('defineHandler') }),
    );
  });

  it('loads the list HANDLERS_MODULE names, and says why one cannot be used', async () => {
    const list = await loadHandlers({
      module: new URL('../fixtures/parcels/handlers.ts', import.meta.url).pathname,
    });
    expect(list).toBe(parcelHandlers);
    await expect(loadHandlers({ module: '/nowhere/handlers.ts' })).rejects.toMatchObject({
      code: 'InvalidHandler',
      message: expect.stringContaining('HANDLERS_MODULE /nowhere/handlers.ts cannot be loaded'),
    });
    const dir = await folder({ 'list.ts': 'export const other = [];\n' });
    await expect(loadHandlers({ module: new URL('list.ts', dir).pathname })).rejects.toMatchObject({
      message: expect.stringContaining('exports no `handlers` list'),
    });
  });
});

describe('migrations from several folders', () => {
  it('orders the product’s and the domains’ migrations in one sequence', async () => {
    const migrations = await loadMigrations(createHandlerRegistry(parcelHandlers).migrationDirs);
    expect(migrations.map((m) => m.version)).toEqual([1, 2, 3, 900]);
  });

  it('refuses a number used twice, naming both files', async () => {
    const a = await folder({ '0101_things.sql': 'SELECT 1' });
    const b = await folder({ '0101_others.sql': 'SELECT 1' });
    await expect(loadMigrations([inboxMigrations, a, b])).rejects.toThrow(
      /two migrations are numbered 0101: .*0101_things\.sql and .*0101_others\.sql/,
    );
  });

  it('keeps numbers below 0100 for the product and the rest for domains', async () => {
    const low = await folder({ '0004_things.sql': 'SELECT 1' });
    await expect(loadMigrations([inboxMigrations, low])).rejects.toThrow(
      /0004_things\.sql: a handler's migrations are numbered from 0100/,
    );
  });
});
