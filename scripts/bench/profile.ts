import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

type ProfileNode = { id: number; callFrame: { url: string; functionName: string; lineNumber?: number } };
type CpuProfile = { nodes: ProfileNode[]; startTime: number; samples: number[]; timeDeltas: number[] };

const root = new URL('../..', import.meta.url).href;

/**
 * Where a function's self time goes: an npm package, a file of this project (`src/…`), a Node
 * built-in module (`node:…`, internals by folder), or V8 itself (GC, microtasks, a native function).
 */
export function placeOf(url: string, functionName: string): string {
  if (url === '') {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === 'runMicrotasks') return 'microtasks';
    // (idle), (program) and (root) are V8's own names already.
    return /^\(.*\)$/.test(functionName) ? functionName : `native ${functionName || '(anonymous)'}`;
  }
  if (url.startsWith('node:internal/')) return `node:internal/${url.slice(14).split('/')[0]}`;
  if (url.startsWith('node:')) return url;
  // Node's TypeScript type stripping (amaro) runs as WebAssembly while modules load.
  if (url.startsWith('wasm://')) return 'wasm (type stripping)';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const [first, second] = url.slice(modules + '/node_modules/'.length).split('/');
    return first?.startsWith('@') ? `${first}/${second}` : (first ?? url);
  }
  return url.startsWith(root) ? url.slice(root.length) : url;
}

export type Place = { name: string; ms: number; share: number };

export type ProfileSummary = {
  /** Busy (not idle) time the summary covers, in ms. */
  busyMs: number;
  /** Whether only the samples inside the asked window were counted (else the whole process). */
  windowed: boolean;
  /** Packages, `node:` modules and V8, with this project's files as one `src/` row. */
  byPackage: Place[];
  /** This project's files. */
  bySrcFile: Place[];
  /** This project's functions, `file:line function`: where to cut next. */
  bySrcFunction: Place[];
};

const ranked = (totals: Map<string, number>, busyMs: number): Place[] =>
  [...totals].map(([name, ms]) => ({ name, ms, share: ms / busyMs })).sort((a, b) => b.ms - a.ms);

/**
 * Self time over every `.cpuprofile` in `dir`, counting only the samples between `window`'s bounds
 * (µs on the monotonic clock, which V8's profile timestamps use too) when any fall inside it.
 */
export async function summarizeProfiles(
  dir: string,
  window?: { fromMonoMicros: number; toMonoMicros: number },
): Promise<ProfileSummary> {
  const all = new Map<string, number>();
  const inWindow = new Map<string, number>();
  const functions = new Map<string, number>();
  const add = (totals: Map<string, number>, name: string, ms: number) =>
    totals.set(name, (totals.get(name) ?? 0) + ms);
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;
    const placeById = new Map(
      profile.nodes.map((n) => [n.id, placeOf(n.callFrame.url, n.callFrame.functionName)]),
    );
    const functionById = new Map(
      profile.nodes.map((n) => [
        n.id,
        `${placeOf(n.callFrame.url, '')}:${(n.callFrame.lineNumber ?? -1) + 1} ${n.callFrame.functionName || '(anonymous)'}`,
      ]),
    );
    let at = profile.startTime;
    profile.samples.forEach((id, i) => {
      const delta = profile.timeDeltas[i] ?? 0;
      at += delta;
      const place = placeById.get(id) ?? '?';
      add(all, place, delta / 1000);
      if (window && at >= window.fromMonoMicros && at <= window.toMonoMicros) {
        add(inWindow, place, delta / 1000);
        if (place.startsWith('src/')) add(functions, functionById.get(id) ?? '?', delta / 1000);
      }
    });
  }
  const windowed = inWindow.size > 0;
  const totals = windowed ? inWindow : all;
  for (const idle of ['(idle)', '(root)']) totals.delete(idle);
  const busyMs = [...totals.values()].reduce((a, b) => a + b, 0);
  const src = new Map([...totals].filter(([name]) => name.startsWith('src/')));
  const packages = new Map([...totals].filter(([name]) => !name.startsWith('src/')));
  packages.set(
    'src/ (this project)',
    [...src.values()].reduce((a, b) => a + b, 0),
  );
  return {
    busyMs,
    windowed,
    byPackage: ranked(packages, busyMs),
    bySrcFile: ranked(src, busyMs),
    bySrcFunction: ranked(functions, busyMs),
  };
}
