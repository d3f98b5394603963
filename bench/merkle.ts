// Merkle root of 1M leaves (scale 1): runledger's streaming CompactRange (rootOfLeaves → appendAll: aligned runs of 4096 leaves folded as perfect subtrees in a reused scratch buffer) vs merkletreejs, both
// given the same precomputed leaf hashes and the same SHA-256 (node:crypto), merkletreejs
// configured for RFC 6962 (0x01 node prefix, no sorting, odd node promoted). Runs alternate
// (ours, reference, ours, …) so machine load hits both alike. Goal: at least 3x faster.
// Each variant is measured in a process of its own (this file run as a child, rounds interleaved):
// in one shared process, building merkletreejs's 2 M Buffers and collecting them leaves a heap
// that slows the next variant's run (ours: ~430 ms of CPU alone, ~630 ms right after merkletreejs,
// docs/benchmarks.md "Merkle root"). The same-process figures are kept in `environment.sameProcess`.
import { spawnSync } from 'node:child_process';
import { hash } from 'node:crypto';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MerkleTree } from 'merkletreejs';
import { rootOfLeaves } from '../src/integrity/compact-range.js';
import { benchEnvironment, summarizeRuns, type BenchOptions, type BenchResult } from './result.js';

/** merkletreejs keeps every layer (about 2N Buffers); beyond this it runs on a prefix and ratios are per leaf. */
const REFERENCE_MAX_LEAVES = 1_000_000;
const NODE_PREFIX = Buffer.from([0x01]);

function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function leafHashes(n: number): Buffer[] {
  const entry = Buffer.alloc(8);
  return Array.from({ length: n }, (_, i) => {
    entry.writeUInt32BE(i, 0);
    return hash('sha256', Buffer.concat([Buffer.from([0x00]), entry]), 'buffer');
  });
}

interface Sample {
  ms: number;
  /** CPU time of this process (user + system): robust to other processes competing for the cores. */
  cpuMs: number;
  heapDelta: number;
  rssDelta: number;
  root: Buffer;
}

function measure(gc: () => void, build: () => { root: Buffer; keep: unknown }): Sample {
  gc();
  const before = process.memoryUsage();
  const cpu = process.cpuUsage();
  const start = performance.now();
  const { root, keep } = build();
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  // RSS at its high-water mark before collecting; heap is what stays reachable while the structure is held.
  const rss = process.memoryUsage().rss;
  gc();
  const after = process.memoryUsage();
  void keep;
  return { ms, cpuMs: (used.user + used.system) / 1000, heapDelta: after.heapUsed - before.heapUsed, rssDelta: rss - before.rss, root };
}

type Variant = 'ours' | 'raw' | 'reference';
const VARIANTS: readonly Variant[] = ['ours', 'raw', 'reference'];

/** The three builds over the same leaves: runledger's root, raw SHA-256 of the node inputs, merkletreejs. */
function builds(n: number): Record<Variant, () => { root: Buffer; keep: unknown }> & { prepare: () => void; sink: () => number } {
  const refN = Math.min(n, REFERENCE_MAX_LEAVES);
  const leaves = leafHashes(n);
  const refLeaves = refN === n ? leaves : leaves.slice(0, refN);
  // The physical limit: an RFC 9162 tree of n leaves hashes n - 1 interior nodes, each SHA-256 of the
  // 65 bytes 0x01 ‖ left ‖ right. The raw reference hashes exactly that many such inputs, one-shot.
  let nodeInputs: Buffer | undefined;
  const inputs = (): Buffer => {
    if (nodeInputs) return nodeInputs;
    nodeInputs = Buffer.alloc(65 * Math.max(0, n - 1));
    for (let k = 0; k < n - 1; k++) {
      nodeInputs[65 * k] = 0x01;
      leaves[k]!.copy(nodeInputs, 65 * k + 1);
      leaves[k + 1]!.copy(nodeInputs, 65 * k + 33);
    }
    return nodeInputs;
  };
  let sink = 0;
  return {
    ours: () => ({ root: rootOfLeaves(leaves), keep: undefined }),
    raw: () => {
      const all = inputs();
      for (let k = 0; k < n - 1; k++) sink ^= hash('sha256', all.subarray(65 * k, 65 * k + 65), 'buffer')[0]!;
      return { root: Buffer.alloc(0), keep: undefined };
    },
    reference: () => {
      const tree = new MerkleTree(refLeaves, (data: Buffer) => hash('sha256', data, 'buffer'), {
        hashLeaves: false,
        sortPairs: false,
        duplicateOdd: false,
        concatenator: (parts: Buffer[]) => Buffer.concat([NODE_PREFIX, ...parts]),
      });
      return { root: tree.getRoot(), keep: tree };
    },
    /** Builds the raw reference's node inputs, outside any measurement. */
    prepare: () => void inputs(),
    sink: () => sink,
  };
}

const THIS_FILE = fileURLToPath(import.meta.url);

/** One variant measured in a fresh process (this file as a child): `runs` builds, the first a warm-up; roots in hex. */
function isolated(variant: Variant, n: number, runs: number): (Sample & { rootHex: string })[] {
  const child = spawnSync(process.execPath, [THIS_FILE, variant, String(n), String(runs)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (child.status !== 0) throw new Error(`bench merkle: the ${variant} child exited with ${child.status}: ${child.stderr.trim()}`);
  return (JSON.parse(child.stdout) as (Omit<Sample, 'root'> & { rootHex: string })[]).map((s) => ({ ...s, root: Buffer.from(s.rootHex, 'hex') }));
}

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const gc = collector();
  const n = Math.max(1, Math.round(1_000_000 * (options.scale ?? 1)));
  const refN = Math.min(n, REFERENCE_MAX_LEAVES);
  const runs = options.runs ?? 3;
  const build = builds(n);
  build.prepare();

  // Same process, interleaved per round (the method before isolation): kept for comparison.
  const same: Record<Variant, Sample[]> = { ours: [], raw: [], reference: [] };
  for (let r = 0; r < runs; r++) for (const v of VARIANTS) same[v].push(measure(gc, build[v]));
  const sink = build.sink();
  // Isolated: one process per variant and round, interleaved (ours, raw, merkletreejs, ours, …).
  const iso: Record<Variant, Sample[]> = { ours: [], raw: [], reference: [] };
  for (let r = 0; r < runs; r++) for (const v of VARIANTS) iso[v].push(isolated(v, n, 2).at(-1)!);
  const expectedRef = rootOfLeaves(leafHashes(refN));
  if (![...same.reference, ...iso.reference].every((s) => s.root.equals(expectedRef))) throw new Error('merkletreejs and runledger disagree on the root');
  if (!iso.ours.every((s) => s.root.equals(same.ours[0]!.root))) throw new Error('runledger roots differ between processes');
  const { ours, raw, reference } = iso;
  const p50 = (samples: Sample[], key: 'ms' | 'cpuMs'): number => summarizeRuns(samples.map((s) => s[key])).p50;
  const sameProcess = {
    note: 'the same builds measured in one process, interleaved per round (the method before isolation)',
    oursMs: p50(same.ours, 'ms'),
    oursCpuMs: p50(same.ours, 'cpuMs'),
    rawMs: p50(same.raw, 'ms'),
    referenceMs: p50(same.reference, 'ms'),
    referenceCpuMs: p50(same.reference, 'cpuMs'),
    ratioToSha256: p50(same.raw, 'ms') / p50(same.ours, 'ms'),
    ratioToMerkletreejs: p50(same.reference, 'ms') / refN / (p50(same.ours, 'ms') / n),
    cpuRatioToMerkletreejs: p50(same.reference, 'cpuMs') / refN / (p50(same.ours, 'cpuMs') / n),
  };

  const wallMs = summarizeRuns(ours.map((s) => s.ms));
  const rawWall = summarizeRuns(raw.map((s) => s.ms));
  const refWall = summarizeRuns(reference.map((s) => s.ms));
  const perLeaf = wallMs.p50 / n;
  const refPerLeaf = refWall.p50 / refN;
  const max = (samples: Sample[], key: 'heapDelta' | 'rssDelta'): number => Math.max(...samples.map((s) => s[key]));
  // What both results say of runledger's own runs.
  const oursMeasured = { unit: 'leaves', runs, wallMs, throughputPerSec: n / (wallMs.p50 / 1000), memoryDeltaBytes: max(ours, 'heapDelta') };
  return [
    {
      name: 'merkle-root-vs-sha256',
      ...oursMeasured,
      reference: { name: 'raw SHA-256 of the n - 1 interior-node inputs (65 bytes each, node:crypto one-shot)', wallMs: rawWall, throughputPerSec: n / (rawWall.p50 / 1000) },
      // Throughput ratio (raw hashing time / ours): at most 1, the tree's own overhead; at least 0.85 required.
      ratio: rawWall.p50 / wallMs.p50,
      goal: 0.85,
      goalIs: 'min',
      environment: {
        ...benchEnvironment(),
        leaves: n,
        cpuMs: summarizeRuns(ours.map((s) => s.cpuMs)),
        referenceCpuMs: summarizeRuns(raw.map((s) => s.cpuMs)),
        cpuRatio: summarizeRuns(raw.map((s) => s.cpuMs)).p50 / summarizeRuns(ours.map((s) => s.cpuMs)).p50,
        interleaved: 'ours, raw SHA-256, merkletreejs per round, each in a process of its own',
        sameProcess,
        sink,
      },
    },
    {
      name: 'merkle-root',
      ...oursMeasured,
      reference: { name: 'merkletreejs (RFC 6962 configuration, node:crypto SHA-256)', wallMs: refWall, throughputPerSec: refN / (refWall.p50 / 1000) },
      // Speed-up per leaf (reference time / ours): higher is better, at least 3 required.
      ratio: refPerLeaf / perLeaf,
      goal: 3,
      goalIs: 'min',
      environment: {
        ...benchEnvironment(),
        leaves: n,
        loadAverage1m: loadavg()[0],
        referenceLeaves: refN,
        cpuMs: summarizeRuns(ours.map((s) => s.cpuMs)),
        referenceCpuMs: summarizeRuns(reference.map((s) => s.cpuMs)),
        cpuRatio: summarizeRuns(reference.map((s) => s.cpuMs)).p50 / refN / (summarizeRuns(ours.map((s) => s.cpuMs)).p50 / n),
        rssDeltaBytes: max(ours, 'rssDelta'),
        referenceMemoryDeltaBytes: max(reference, 'heapDelta'),
        referenceRssDeltaBytes: max(reference, 'rssDelta'),
        sameProcess,
        note:
          refN === n
            ? 'both over the same precomputed leaf hashes; heap delta is what stays reachable (after GC) while the result is held; cpuRatio compares process CPU time, robust to other load on the machine'
            : `merkletreejs holds every layer in memory, so it ran on the first ${refN} leaves; the ratio compares time per leaf`,
      },
    },
  ];
}

// As a child: `node merkle.js VARIANT N RUNS` measures one variant and prints its samples as JSON.
if (process.argv[1] === THIS_FILE && VARIANTS.includes(process.argv[2] as Variant)) {
  const [variant, n, runs] = [process.argv[2] as Variant, Number(process.argv[3]), Number(process.argv[4])];
  const gc = collector();
  const build = builds(n);
  build.prepare();
  const samples = Array.from({ length: runs }, () => measure(gc, build[variant]));
  process.stdout.write(JSON.stringify(samples.map(({ root, ...s }) => ({ ...s, rootHex: root.toString('hex'), sink: build.sink() }))));
}
