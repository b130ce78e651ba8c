import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** User + system CPU time of a process so far, in µs, from /proc/<pid>/stat. */
export function processCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces: utime is the 14th field.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks / ticksPerSecond) * 1e6;
}

/** Peak resident set size of a process so far (VmHWM), in MiB. */
export function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

/** This process's own CPU time so far, in µs. */
export function ownCpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

export const percentile = (sorted: readonly number[], p: number): number =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number);

const statFields = (text: string): string[] => text.slice(text.lastIndexOf(')') + 2).split(' ');

/** CPU time of a process and all its descendants so far (those already reaped included), in µs. */
function treeCpuMicros(rootPid: number): number {
  const stats = new Map<number, string[]>();
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      stats.set(Number(entry), statFields(readFileSync(`/proc/${entry}/stat`, 'utf8')));
    } catch {
      // Gone between the listing and the read.
    }
  }
  const inTree = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
      if (p === rootPid) return true;
      p = Number(stats.get(p)?.[1] ?? 0);
    }
    return false;
  };
  let ticks = 0;
  for (const [pid, f] of stats)
    if (inTree(pid)) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  return (ticks / ticksPerSecond) * 1e6;
}

/** Busy CPU time of the whole machine so far (every process, the kernel's interrupts), in µs. */
function machineBusyMicros(): number {
  const [user, nice, system, , , irq, softirq, steal] = (
    readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
  )
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const ticks = [user, nice, system, irq, softirq, steal].reduce<number>((a, b) => a + (b ?? 0), 0);
  return (ticks / ticksPerSecond) * 1e6;
}

export type Disturbance = { machine: number; ours: number; ms: number };

/** A reading for `othersShare`: the machine's CPU time and this process tree's (the bench, its stack and programs). */
export const readDisturbance = (): Disturbance => ({
  machine: machineBusyMicros(),
  ours: treeCpuMicros(process.pid),
  ms: performance.now(),
});

/** Share of the machine's cores that processes outside the bench used between two readings: a disturbed measurement shows here. */
export const othersShare = (a: Disturbance, b: Disturbance): number =>
  // CPU times move in 10 ms ticks: below a second the share would be noise.
  b.ms - a.ms < 1_000
    ? Number.NaN
    : Math.max(0, b.machine - a.machine - (b.ours - a.ours)) / ((b.ms - a.ms) * 1000 * cpus().length);
