import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join, matchesGlob, relative } from 'node:path';
import { DockerfileParser } from 'dockerfile-ast';

const root = new URL('../../', import.meta.url).pathname;

export type Stage = {
  name: string | undefined;
  instructions: { keyword: string; args: string[]; flags: Map<string, string | null>; line: string }[];
};

/** The Dockerfile's stages, read with dockerfile-ast: what the image is made of comes from it alone. */
export function readStages(path = join(root, 'Dockerfile')): Stage[] {
  const dockerfile = DockerfileParser.parse(readFileSync(path, 'utf8'));
  const stages: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword();
    if (keyword === 'FROM') {
      const words = instruction.getArguments().map((a) => a.getValue());
      stages.push({ name: words[1]?.toUpperCase() === 'AS' ? words[2] : undefined, instructions: [] });
    }
    const flags = new Map<string, string | null>(
      'getFlags' in instruction
        ? (instruction as unknown as { getFlags(): { getName(): string; getValue(): string | null }[] })
            .getFlags()
            .map((f) => [f.getName(), f.getValue()])
        : [],
    );
    const args = instruction.getArguments().map((a) => a.getValue());
    stages.at(-1)?.instructions.push({
      keyword,
      args,
      flags,
      line: (instruction.getArgumentsContent() ?? '').replace(/--mount=\S+\s*/g, ''),
    });
  }
  return stages;
}

const ignorePatterns = (): string[] =>
  existsSync(join(root, '.dockerignore'))
    ? readFileSync(join(root, '.dockerignore'), 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'))
    : [];

/** Copies `source` from the build context into `dest`, leaving out what .dockerignore excludes. */
function copyFromContext(source: string, dest: string): void {
  const patterns = ignorePatterns();
  const ignored = (path: string) => {
    const rel = relative(root, path);
    return patterns.some(
      (p) => matchesGlob(rel, p) || matchesGlob(rel, `${p}/**`) || matchesGlob(rel, `**/${p}`),
    );
  };
  if (ignored(join(root, source))) return;
  mkdirSync(dirname(dest), { recursive: true });
  cpSync(join(root, source), dest, { recursive: true, filter: (s) => !ignored(s) });
}

const resolveDest = (workdir: string, dest: string, source: string): string => {
  const target = dest.startsWith('/') ? dest : join(workdir, dest);
  return dest.endsWith('/') || dest === '.' || dest === './'
    ? join(target, source.split('/').at(-1) ?? '')
    : target;
};

/**
 * Plays a stage's COPY, WORKDIR and RUN instructions into `dir` (which stands for the stage's /app).
 * `runs` decides how each RUN executes; it gets the command with BuildKit mount flags removed.
 */
export function assembleStage(
  stage: Stage,
  dir: string,
  options: { stages: Map<string, string>; run: (command: string, cwd: string) => void },
): void {
  let workdir = dir;
  for (const i of stage.instructions) {
    if (i.keyword === 'WORKDIR') workdir = dir;
    if (i.keyword === 'COPY') {
      const from = i.flags.get('from');
      const sources = i.args.slice(0, -1);
      const dest = i.args.at(-1) as string;
      for (const source of sources) {
        const target = resolveDest(workdir, dest, source);
        if (from) {
          const fromDir = options.stages.get(from);
          if (!fromDir) throw new Error(`COPY --from=${from}: no such stage assembled`);
          cpSync(join(fromDir, source.replace(/^\/app\/?/, '')), target, { recursive: true });
        } else {
          copyFromContext(source, target);
        }
      }
    }
    if (i.keyword === 'RUN') options.run(i.line, workdir);
  }
}

/** The build stage's dependencies are the work tree's own (same lockfile), linked instead of installed again. */
export function linkWorkTreeModules(dir: string): void {
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
}

export const sh = (command: string, cwd: string): void => {
  execFileSync('sh', ['-c', command], { cwd, stdio: 'pipe', env: { ...process.env, NODE_ENV: undefined } });
};
