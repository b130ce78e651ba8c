import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

type ProfileNode = { id: number; callFrame: { url: string; functionName: string }; children?: number[] };
type CpuProfile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };

/** Which package a script URL belongs to: an npm package, Node itself, or this project's folder. */
export function packageOf(url: string, functionName: string): string {
  if (url === '')
    return functionName === '(idle)' ? '(idle)' : `(${functionName.replace(/[()]/g, '') || 'native'})`;
  if (url.startsWith('node:')) return 'node (built-in modules)';
  // Node's TypeScript type stripping (amaro) runs as WebAssembly while modules load.
  if (url.startsWith('wasm://')) return 'node (type stripping, wasm)';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const [first, second] = url.slice(modules + '/node_modules/'.length).split('/');
    return first?.startsWith('@') ? `${first}/${second}` : (first ?? url);
  }
  const src = /\/(src\/[^/]+)\//.exec(url) ?? /\/(src)\/[^/]+$/.exec(url);
  return src ? `keyless-worker ${src[1]}` : url;
}

/** Self time per package over every `.cpuprofile` in `dir`, largest first, with its share of the busy time. */
export async function profileByPackage(dir: string): Promise<{ name: string; ms: number; share: number }[]> {
  const totals = new Map<string, number>();
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;
    const byId = new Map(
      profile.nodes.map((n) => [n.id, packageOf(n.callFrame.url, n.callFrame.functionName)]),
    );
    profile.samples.forEach((id, i) => {
      const name = byId.get(id) ?? '?';
      totals.set(name, (totals.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
    });
  }
  totals.delete('(idle)');
  const busy = [...totals.values()].reduce((a, b) => a + b, 0);
  return [...totals].map(([name, ms]) => ({ name, ms, share: ms / busy })).sort((a, b) => b.ms - a.ms);
}
