import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { placeOf, summarizeProfiles } from '../../scripts/bench/profile.ts';

const root = new URL('../..', import.meta.url).href;

describe('the bench profile summary', () => {
  it('places self time in npm packages, this project’s files, node: modules and V8', () => {
    expect(placeOf(`${root}node_modules/rhea/lib/link.js`, 'flow')).toBe('rhea');
    expect(placeOf(`${root}node_modules/@azure/service-bus/dist/esm/receiver.js`, 'x')).toBe(
      '@azure/service-bus',
    );
    expect(placeOf(`${root}node_modules/a/node_modules/zod/v4/core.js`, 'parse')).toBe('zod');
    expect(placeOf(`${root}src/servicebus/envelope.ts`, 'parseEnvelope')).toBe('src/servicebus/envelope.ts');
    expect(placeOf('node:buffer', 'from')).toBe('node:buffer');
    expect(placeOf('node:internal/streams/readable', 'push')).toBe('node:internal/streams');
    expect(placeOf('', '(garbage collector)')).toBe('GC');
    expect(placeOf('', 'runMicrotasks')).toBe('microtasks');
    expect(placeOf('', 'writeBuffer')).toBe('native writeBuffer');
    expect(placeOf('', '(program)')).toBe('(program)');
  });

  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const profile = {
    nodes: [
      { id: 1, callFrame: { url: '', functionName: '(root)' } },
      { id: 2, callFrame: { url: '', functionName: '(idle)' } },
      { id: 3, callFrame: { url: `${root}node_modules/rhea/lib/link.js`, functionName: 'flow' } },
      { id: 4, callFrame: { url: `${root}src/pipeline/batcher.ts`, functionName: 'add' } },
      { id: 5, callFrame: { url: '', functionName: '(garbage collector)' } },
    ],
    startTime: 1_000_000,
    // One sample every ms: rhea, idle, the batcher, GC, then rhea twice more.
    samples: [3, 2, 4, 5, 3, 3],
    timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000],
  };

  it('counts busy self time by package with this project’s files as one row, and by src/ file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bench-profile-'));
    await writeFile(join(dir, 'a.cpuprofile'), JSON.stringify(profile));
    const summary = await summarizeProfiles(dir);
    expect(summary.windowed).toBe(false);
    expect(summary.busyMs).toBe(5);
    expect(summary.byPackage).toEqual([
      { name: 'rhea', ms: 3, share: 0.6 },
      { name: 'GC', ms: 1, share: 0.2 },
      { name: 'src/ (this project)', ms: 1, share: 0.2 },
    ]);
    expect(summary.bySrcFile).toEqual([{ name: 'src/pipeline/batcher.ts', ms: 1, share: 0.2 }]);
  });

  it('counts only the samples inside the steady window when it is given', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bench-profile-'));
    await writeFile(join(dir, 'a.cpuprofile'), JSON.stringify(profile));
    // Samples at 1,001,000 … 1,006,000 µs: the window holds the batcher's and the GC's.
    const summary = await summarizeProfiles(dir, { fromMonoMicros: 1_002_500, toMonoMicros: 1_004_500 });
    expect(summary.windowed).toBe(true);
    expect(summary.byPackage.map((p) => [p.name, p.ms])).toEqual([
      ['GC', 1],
      ['src/ (this project)', 1],
    ]);
  });
});
