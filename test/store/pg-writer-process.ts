// Writer processes (pg-writer.ts) for the PostgreSQL fault suites: spawn one, optionally SIGKILL it
// mid-run, and read back exactly which batches the store acknowledged to it.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const writerScript = fileURLToPath(new URL('./pg-writer.js', import.meta.url));

export interface WriterReport {
  writer: number;
  conflicts: number;
  /** Ids of every batch the store acknowledged, in order. */
  acknowledged: string[];
  /** Highest `i` acknowledged + 1: batches cover `i` contiguously from 0. */
  acknowledgedUpTo: number;
  finished: boolean;
}

export function parseWriterOutput(writer: number, stdout: string): WriterReport {
  const report: WriterReport = { writer, conflicts: 0, acknowledged: [], acknowledgedUpTo: 0, finished: false };
  for (const line of stdout.split('\n')) {
    // A killed writer may leave a torn last line; it acknowledged nothing we can rely on.
    let parsed: { ack?: string[]; from?: number; count?: number; conflicts?: number };
    try {
      parsed = JSON.parse(line) as typeof parsed;
    } catch {
      continue;
    }
    if (parsed.ack) {
      report.acknowledged.push(...parsed.ack);
      report.acknowledgedUpTo = parsed.from! + parsed.count!;
    } else if (parsed.conflicts !== undefined) {
      report.conflicts = parsed.conflicts;
      report.finished = true;
    }
  }
  return report;
}

/** Runs a writer process; `killAfterMs` sends it SIGKILL mid-run, as a crash would. */
export function runWriter(url: string, writer: number, count: number, killAfterMs?: number, env: Record<string, string> = {}): Promise<WriterReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writerScript], {
      env: { ...process.env, ...env, PG_WRITER_URL: url, PG_WRITER_ID: String(writer), PG_WRITER_EVENTS: String(count) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (killer) clearTimeout(killer);
      if (code !== 0 && signal !== 'SIGKILL') reject(new Error(`writer ${writer} exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
      else resolve(parseWriterOutput(writer, stdout));
    });
  });
}
