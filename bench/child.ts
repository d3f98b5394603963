// What the scale benchmarks share: the real CLI started as a child process, its wall time, and its
// peak resident set read from /proc/PID/status (VmHWM, the kernel's own high-water mark).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** bin/runledger.js of this build. */
export const CLI = resolve(fileURLToPath(import.meta.url), '../../../bin/runledger.js');

export interface ChildRun {
  ms: number;
  /** Peak resident set (VmHWM) of the child, bytes; null where /proc is not available. */
  peakRssBytes: number | null;
  /** CPU time of the child (user + system, all threads) at its last sample, ms; null where /proc is not available. On a shared machine, the figure that load does not inflate. */
  cpuMs: number | null;
  stdout: string;
}

/** utime + stime of /proc/PID/stat, in ms (clock ticks of 10 ms, USER_HZ = 100 on Linux). */
function readCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the command name (which may contain spaces) start after the last ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

/** Highest VmHWM seen while polling /proc/PID/status (the kernel's own peak, so polling misses nothing but the last interval). */
function readHwm(pid: number): number | null {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export function runChild(args: string[]): Promise<ChildRun> {
  return new Promise((resolveRun, reject) => {
    const start = performance.now();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peak: number | null = null;
    let cpu: number | null = null;
    const poll = setInterval(() => {
      const hwm = readHwm(child.pid!);
      if (hwm !== null) peak = Math.max(peak ?? 0, hwm);
      cpu = readCpuMs(child.pid!) ?? cpu;
    }, 50);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    // "exit" fires before the stdio pipes drain; "close" after both, so the JSON is complete.
    child.on('exit', () => clearInterval(poll));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - start;
      if (code !== 0) reject(new Error(`bench scale: ${args.slice(1).join(' ')} exited with ${code}: ${stderr.trim() || stdout.trim()}`));
      else resolveRun({ ms, peakRssBytes: peak, cpuMs: cpu, stdout });
    });
  });
}

