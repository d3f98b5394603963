// Projection rebuild: the RxJS wiring (`foldAll` = from(events) → scan → last → digest) against a
// hand-written loop doing the same work (evolve each event, track position, digest the end state),
// over the same sealed events, in the same process. Goal: the wiring costs at most 1.3× the loop.
import { comparisonGraphProjection } from '../projections/comparison-graph.js';
import { foldAll, projectionDigest, stateDigest, type Projection } from '../projections/projection.js';
import { emptyRunSummaries, evolveRunProvenance, RUN_STREAM_PREFIX, runSummaryProjection, type RunProvenance, type RunSummaries } from '../projections/run-summary.js';
import type { RecordedEvent } from '../src/store/port.js';
import { campaignStreamEvents, interleave, metrics, runStreamEvents, sealStreams, type Streams } from './fixtures/projection-log.js';
import { benchEnvironment, summarizeRuns, type BenchOptions, type BenchResult } from './result.js';

const GOAL = 1.3;

/** `runs` governed training runs (13 events each) in campaigns of 10 (2 events each), interleaved across streams. */
function ledger(runs: number): RecordedEvent[] {
  const streams: Streams = {};
  for (let c = 0; c < runs / 10; c++) {
    const ids = Array.from({ length: 10 }, (_, i) => `c${c}-r${i}`);
    ids.forEach((runId, i) => (streams[`run-${runId}`] = runStreamEvents({ runId, seed: i + 1, metrics: metrics(0.8 + i / 100) })));
    streams[`campaign-c${c}`] = campaignStreamEvents(`c${c}`, ids);
  }
  return interleave(sealStreams(streams), 1);
}

function handLoop<S>(projection: Projection<S>, events: readonly RecordedEvent[]): { state: S; position: number; events: number; digest: string } {
  let state = projection.initial;
  let position = -1;
  let count = 0;
  for (const event of events) {
    state = projection.evolve(state, event);
    position = event.position;
    count++;
  }
  return { state, position, events: count, digest: projectionDigest(projection, state) };
}

/**
 * The run summary written by hand without persistence: one mutable Map of runs updated in place
 * (what the persistent map is measured against), the same per-run reducer, the same digest.
 */
function mutableRunSummaryLoop(events: readonly RecordedEvent[]): { position: number; events: number; digest: string } {
  const runs = new Map<string, RunProvenance>();
  let rest: RunSummaries = emptyRunSummaries;
  let position = -1;
  let count = 0;
  for (const event of events) {
    const { stream } = event.envelope;
    if (stream.startsWith(RUN_STREAM_PREFIX)) {
      const runId = stream.slice(RUN_STREAM_PREFIX.length);
      const run = runs.get(runId);
      // A run's first event: evolve on the empty state makes its entry (O(1)).
      runs.set(runId, run ? evolveRunProvenance(run, event) : runSummaryProjection.evolve(emptyRunSummaries, event).runs.get(runId)!);
    } else {
      rest = runSummaryProjection.evolve(rest, event);
    }
    position = event.position;
    count++;
  }
  const json = { runs: Object.fromEntries([...runs].sort((a, b) => (a[0] < b[0] ? -1 : 1))), campaigns: rest.campaigns.toJSON(), comparisons: rest.comparisons.toJSON() };
  return { position, events: count, digest: stateDigest(json) };
}

function timeMs(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function timeAsyncMs(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Ledger sizes: the default and a many-runs case, where a per-event cost that grows with the runs shows. */
const CASES = [
  { label: '', runs: 200, repetitions: 15 },
  { label: '-2000-runs', runs: 2000, repetitions: 9 },
];

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const c of CASES) {
    const runs = Math.max(10, Math.round(c.runs * (options.scale ?? 1)));
    results.push(...(await measure(c.label, ledger(runs), runs, options.runs ?? c.repetitions)));
  }
  return results;
}

async function measure(label: string, events: RecordedEvent[], runs: number, repetitions: number): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const projection of [runSummaryProjection, comparisonGraphProjection] as Projection<unknown>[]) {
    // Same answer first: a benchmark of two paths that disagree would measure nothing.
    const expected = handLoop(projection, events).digest;
    if ((await foldAll(projection, events)).digest !== expected) throw new Error(`${projection.name}: wiring and loop disagree`);
    const mutable = projection === runSummaryProjection;
    if (mutable && mutableRunSummaryLoop(events).digest !== expected) throw new Error(`${projection.name}: mutable loop disagrees`);
    const wiring: number[] = [];
    const loop: number[] = [];
    const mutableLoop: number[] = [];
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < repetitions; i++) {
      // Alternate the order so neither path always runs on a warmer heap.
      if (i % 2 === 0) {
        wiring.push(await timeAsyncMs(() => foldAll(projection, events)));
        loop.push(timeMs(() => handLoop(projection, events)));
      } else {
        loop.push(timeMs(() => handLoop(projection, events)));
        wiring.push(await timeAsyncMs(() => foldAll(projection, events)));
      }
      if (mutable) mutableLoop.push(timeMs(() => mutableRunSummaryLoop(events)));
    }
    const memoryDeltaBytes = process.memoryUsage().heapUsed - heapBefore;
    const wallMs = summarizeRuns(wiring);
    const reference = summarizeRuns(loop);
    results.push({
      name: `projection-rebuild-${projection.name}${label}`,
      unit: 'events',
      runs: repetitions,
      wallMs,
      throughputPerSec: (events.length / wallMs.p50) * 1000,
      memoryDeltaBytes,
      reference: { name: 'hand-written loop', wallMs: reference, throughputPerSec: (events.length / reference.p50) * 1000 },
      ratio: wallMs.p50 / reference.p50,
      goal: GOAL,
      goalIs: 'max',
      environment: { ...benchEnvironment(), events: events.length, runs },
    });
    if (mutable) {
      // The same wiring timings against a loop that keeps no earlier state: what persistence costs.
      const mutableRef = summarizeRuns(mutableLoop);
      results.push({
        ...results.at(-1)!,
        name: `projection-rebuild-${projection.name}${label}-vs-mutable-loop`,
        reference: { name: 'hand-written loop, one mutable Map of runs', wallMs: mutableRef, throughputPerSec: (events.length / mutableRef.p50) * 1000 },
        ratio: wallMs.p50 / mutableRef.p50,
      });
    }
  }
  return results;
}
