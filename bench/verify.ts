// Full-log verification on one core: verify-log over N sealed events held in memory (parse,
// RFC 8785 form check, Envelope schema, leaf hash, stream chains, tree, signed checkpoints) vs
// raw SHA-256 of the same event bytes, one hash per event. Runs alternate so machine load hits
// both alike. Goal: verification throughput at least 0.3 of the raw hashing throughput (issue 13).
// A third result runs the same verification across worker threads (verify-parallel.ts, fresh
// threads per run as the CLI starts them) against the single-threaded runs: the scaling ratio.
// A second result isolates the Merkle work (leaf hash + tree append) to show the ceiling the
// tree alone imposes: an RFC 9162 tree hashes about one interior node per leaf.
import { createHash, hash } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { signCheckpoint } from '../src/integrity/checkpoint.js';
import { CompactRange, rootOfLeaves } from '../src/integrity/compact-range.js';
import { leafHash } from '../src/integrity/hasher.js';
import { noteKeyFromSeed, parseSignerKey } from '../src/integrity/note.js';
import { verifyLogSync, type VerifyLogOptions, type VerifyLogReport } from '../src/replay/verify-log.js';
import { verifyLogParallel } from '../src/replay/verify-parallel.js';
import type { RecordedEvent, StoredCheckpoint } from '../src/store/port.js';
import { sealEvent } from '../src/store/seal.js';
import { recordFromCanonical } from '../src/store/recorded.js';
import { benchEnvironment, PARALLEL_SPEEDUP_GOAL, summarizeRuns, throughputResult, type BenchOptions, type BenchResult } from './result.js';

const ORIGIN = 'bench.runledger/log';
const STREAMS = 32;
const CHECKPOINTS = 10;

/** Training telemetry of the size runledger records (a few hundred bytes of canonical JSON each). */
function sealedLog(n: number): RecordedEvent[] {
  const heads = new Map<string, { revision: number; leafHash: string }>();
  const events: RecordedEvent[] = [];
  for (let i = 0; i < n; i++) {
    const stream = `run-${i % STREAMS}`;
    const head = heads.get(stream);
    const sealed = sealEvent(
      stream,
      head === undefined ? 0 : head.revision + 1,
      head?.leafHash ?? null,
      {
        id: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
        type: 'custom.telemetry',
        schemaVersion: 1,
        data: { step: i, epoch: Math.floor(i / 1000), loss: 1 / (i + 1), accuracy: 0.5 + (i % 1000) / 2000, lr: 0.001, tags: ['train'] },
        metadata: { actor: 'worker-1', correlationId: stream, causationId: null },
        contentDigest: '',
      },
      new Date(1_700_000_000_000 + i).toISOString(),
    );
    heads.set(stream, { revision: sealed.envelope.revision, leafHash: sealed.leafHash });
    // As the embedded store hands events out: bytes and recorded leaf hash, the envelope decoded on first read.
    events.push(recordFromCanonical(i + 1, i, Buffer.from(sealed.canonical), sealed.leafHash));
  }
  return events;
}

function signedCheckpoints(events: readonly RecordedEvent[], signerKey: string): StoredCheckpoint[] {
  const signer = parseSignerKey(signerKey);
  const leaves = events.map((e) => Buffer.from(e.leafHash, 'hex'));
  const sizes = Array.from({ length: CHECKPOINTS }, (_, k) => Math.max(1, Math.round(((k + 1) * events.length) / CHECKPOINTS)));
  return sizes.map((size) => {
    const root = rootOfLeaves(leaves.slice(0, size));
    return { size, root: root.toString('hex'), note: signCheckpoint(ORIGIN, size, root, signer), createdAt: new Date(0).toISOString() };
  });
}

function rawWall50(raw: readonly Timing[]): number {
  return summarizeRuns(raw.map((t) => t.ms)).p50;
}

interface Timing {
  ms: number;
  /** CPU time of this process (user + system): robust to other processes competing for the cores. */
  cpuMs: number;
}

function timed(fn: () => void): Timing {
  const cpu = process.cpuUsage();
  const start = performance.now();
  fn();
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { ms, cpuMs: (used.user + used.system) / 1000 };
}

async function timedAsync(fn: () => Promise<void>): Promise<Timing> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await fn();
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { ms, cpuMs: (used.user + used.system) / 1000 };
}

function result(name: string, n: number, ours: Timing[], raw: Timing[], memoryDeltaBytes: number, extra: Record<string, unknown>, goal?: number): BenchResult {
  const cpu = summarizeRuns(ours.map((t) => t.cpuMs));
  const rawCpu = summarizeRuns(raw.map((t) => t.cpuMs));
  const reference = { name: "raw SHA-256 of each event's bytes (node:crypto one-shot)", samplesMs: raw.map((t) => t.ms) };
  const environment = { ...benchEnvironment(), events: n, cpuMs: cpu, referenceCpuMs: rawCpu, cpuRatio: rawCpu.p50 / cpu.p50, ...extra };
  return throughputResult(name, n, ours.map((t) => t.ms), reference, environment, { memoryDeltaBytes, goal });
}

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const n = Math.max(CHECKPOINTS, Math.round(100_000 * (options.scale ?? 1)));
  const runs = options.runs ?? 5;
  const events = sealedLog(n);
  const key = noteKeyFromSeed(ORIGIN, Buffer.alloc(32, 42));
  const verifyOptions: VerifyLogOptions = { checkpoints: signedCheckpoints(events, key.signerKey), verifierKeys: [key.verifierKey], origin: ORIGIN };
  const bytes = events.reduce((sum, e) => sum + e.canonical.length, 0);

  let sink = 0; // keeps the reference loops from being optimised away
  const rawHash = (): void => {
    for (const event of events) sink ^= hash('sha256', event.canonical, 'buffer')[0]!;
  };
  // The same hashes without a Buffer per digest (hex output): on Node 20 the Buffer costs about as
  // much as hashing the event, so this is the lower bound; reported beside the goal's reference.
  const rawHashNoBuffer = (): void => {
    for (const event of events) sink ^= hash('sha256', event.canonical, 'hex').charCodeAt(0);
  };
  const merkleOnly = (): void => {
    const range = CompactRange.empty();
    for (const event of events) range.append(leafHash(event.canonical));
    sink ^= range.root()[0]!;
  };

  // At least two threads, so the scaling is measured even where the CLI default (cores - 1) is 1.
  const workers = Math.max(2, availableParallelism());
  const verify: Timing[] = [];
  const parallel: Timing[] = [];
  const merkle: Timing[] = [];
  const raw: Timing[] = [];
  const rawNoBuffer: Timing[] = [];
  let memoryDeltaBytes = 0;
  for (let r = 0; r < runs; r++) {
    gc();
    const before = process.memoryUsage().heapUsed;
    let report: ReturnType<typeof verifyLogSync> | undefined;
    // Fresh records each run, as each read of the store hands out (decoded once, by the verifier).
    const read = events.map((e) => recordFromCanonical(e.position, e.index!, e.canonical, e.leafHash));
    verify.push(timed(() => (report = verifyLogSync(read, verifyOptions))));
    if (!report?.ok || report.checkpoints !== CHECKPOINTS) throw new Error(`verification failed in the benchmark: ${report?.firstDivergence?.message}`);
    gc();
    memoryDeltaBytes = Math.max(memoryDeltaBytes, process.memoryUsage().heapUsed - before);
    raw.push(timed(rawHash));
    rawNoBuffer.push(timed(rawHashNoBuffer));
    merkle.push(timed(merkleOnly));
    let parallelReport: VerifyLogReport | undefined;
    const readAgain = events.map((e) => recordFromCanonical(e.position, e.index!, e.canonical, e.leafHash));
    parallel.push(await timedAsync(async () => void (parallelReport = await verifyLogParallel(readAgain, verifyOptions, { workers }))));
    if (JSON.stringify(parallelReport) !== JSON.stringify(report)) throw new Error('parallel verification reported differently from single-threaded verification');
  }

  // Streaming SHA-256 over all bytes: the hash function's own throughput, without per-event calls.
  const streaming = timed(() => {
    const h = createHash('sha256');
    for (const event of events) h.update(event.canonical);
    sink ^= h.digest()[0]!;
  });
  const shared = {
    averageEventBytes: Math.round(bytes / n),
    streams: STREAMS,
    checkpoints: CHECKPOINTS,
    streamingSha256BytesPerSec: Math.round(bytes / (streaming.ms / 1000)),
    sink,
  };
  const parallelWall = summarizeRuns(parallel.map((t) => t.ms));
  const parallelCpu = summarizeRuns(parallel.map((t) => t.cpuMs));
  const singleCpu = summarizeRuns(verify.map((t) => t.cpuMs));
  const parallelResult = throughputResult(
    'verify-log-parallel',
    n,
    parallel.map((t) => t.ms),
    { name: 'verify-log on one thread (--workers 1), same runs', samplesMs: verify.map((t) => t.ms) },
    {
      ...benchEnvironment(),
      events: n,
      workers,
      // Other processes on the machine take cores the workers would use.
      loadAverage1m: loadavg()[0],
      cpuMs: parallelCpu,
      referenceCpuMs: singleCpu,
      // CPU spent (all threads) per unit of single-threaded CPU: the price of batching, messages and thread start-up.
      cpuOverhead: parallelCpu.p50 / singleCpu.p50,
      ratioToRawSha256: rawWall50(raw) / parallelWall.p50,
      note: `${workers} worker thread${workers === 1 ? '' : 's'} started per run (start-up included); the main thread keeps the ordered checks; reports compared equal on every run`,
    },
    { goal: PARALLEL_SPEEDUP_GOAL },
  );
  return [
    result('verify-log', n, verify, raw, memoryDeltaBytes, {
      ...shared,
      rawSha256NoBufferMs: summarizeRuns(rawNoBuffer.map((t) => t.ms)),
      ratioToRawSha256NoBuffer: rawWall50(rawNoBuffer) / summarizeRuns(verify.map((t) => t.ms)).p50,
    }, 0.3),
    parallelResult,
    result('verify-log-merkle-only', n, merkle, raw, 0, {
      ...shared,
      note: 'leaf hash + CompactRange append per event, no parsing or checks: the cost of the tree itself (about two SHA-256 calls per event against one)',
    }),
  ];
}
