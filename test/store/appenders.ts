// Concurrent appenders in other processes, for the conformance suite's cross-process cases. Each
// child (any-appender.ts) opens the store by URL, reports ready, and on "go" — sent to all of them
// at once — fires its appends concurrently, so appends of different processes really overlap.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AppendRequest } from '../../src/store/port.js';

const script = fileURLToPath(new URL('./any-appender.js', import.meta.url));

export interface AppenderReport {
  appended: number;
}

interface Child {
  process: ChildProcess;
  ready: Promise<void>;
  done: Promise<AppenderReport>;
}

function start(url: string, batches: AppendRequest[][]): Child {
  const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (stdout.includes('ready\n')) markReady();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<AppenderReport>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !last.startsWith('{')) reject(new Error(`appender process exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
      else resolve(JSON.parse(last) as AppenderReport);
    });
  });
  // A child that dies before it is ready must not leave the barrier waiting.
  done.catch(() => markReady());
  child.stdin!.write(`${JSON.stringify({ url, batches })}\n`);
  return { process: child, ready, done };
}

/** Runs one process per entry of `perProcess`, each appending its batches concurrently. */
export async function runAppenders(url: string, perProcess: AppendRequest[][][]): Promise<AppenderReport[]> {
  const children = perProcess.map((batches) => start(url, batches));
  try {
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.process.stdin!.end('go\n');
    return await Promise.all(children.map((c) => c.done));
  } finally {
    for (const c of children) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
  }
}
