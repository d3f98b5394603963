import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject, firstValueFrom, take, toArray } from 'rxjs';
import { catchUp, follow } from '../../projections/catch-up.js';
import { comparisonGraphProjection } from '../../projections/comparison-graph.js';
import { consumerName, digestState, foldAll, project, projectionDigest, stateDigest, stateJson, type Projection } from '../../projections/projection.js';
import { runSummaryProjection } from '../../projections/run-summary.js';
import { snapshotPath } from '../../projections/snapshots.js';
import { canonicalize } from '../../src/integrity/canonical.js';
import { openStore } from '../../src/store/open.js';
import type { EventStore, RecordedEvent } from '../../src/store/port.js';
import { campaignStreamEvents, metrics, runStreamEvents } from '../../bench/fixtures/projection-log.js';

const counter: Projection<{ count: number; byType: Record<string, number> }> = {
  name: 'counter',
  version: 1,
  initial: { count: 0, byType: {} },
  evolve: (s, e) => ({ count: s.count + 1, byType: { ...s.byType, [e.envelope.type]: (s.byType[e.envelope.type] ?? 0) + 1 } }),
};

describe('projections/engine', () => {
  let dir: string;
  let store: EventStore;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'runledger-proj-'));
    store = await openStore(`sqlite:${join(dir, 'ledger.db')}`);
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function appendRun(runId: string, accuracy: number): Promise<void> {
    await store.append(`run-${runId}`, runStreamEvents({ runId, metrics: metrics(accuracy) }));
  }

  it('folds a live stream and a finite replay through the same wiring to the same digest', async () => {
    await appendRun('r1', 0.9);
    const events = await store.readAll();
    const live = new Subject<RecordedEvent>();
    const states = firstValueFrom(live.pipe(project(counter), digestState(counter), take(events.length), toArray()));
    for (const e of events) live.next(e);
    const emitted = await states;
    const replayed = await foldAll(counter, events);
    assert.equal(emitted.at(-1)!.digest, replayed.digest);
    assert.equal(emitted.at(-1)!.position, events.at(-1)!.position);
    assert.equal(replayed.state.count, events.length);
  });

  it('digests by JCS, so key insertion order does not matter and a changed value does', async () => {
    const a = await foldAll(counter, []);
    assert.equal(a.position, -1);
    const x = { ...counter, initial: { count: 1, byType: { A: 1, B: 2 } } };
    const y = { ...counter, initial: { byType: { B: 2, A: 1 }, count: 1 } };
    const z = { ...counter, initial: { count: 1, byType: { A: 1, B: 3 } } };
    assert.equal((await foldAll(x, [])).digest, (await foldAll(y, [])).digest);
    assert.notEqual((await foldAll(x, [])).digest, (await foldAll(z, [])).digest);
  });

  it('never changes a state it was given: an earlier state still has its digest after more events are folded on it', async () => {
    for (let i = 0; i < 6; i++) await appendRun(`r${i}`, 0.8 + i / 100);
    await store.append('campaign-c', campaignStreamEvents('c', ['r0', 'r1', 'r2']));
    const events = await store.readAll();
    for (const projection of [runSummaryProjection, comparisonGraphProjection] as Projection<unknown>[]) {
      const half = await foldAll(projection, events.slice(0, events.length / 2));
      const before = canonicalize(stateJson(projection, half.state));
      // Two different continuations from the same state: neither may leak into it or into the other.
      const a = await foldAll(projection, events.slice(events.length / 2), half);
      const b = await foldAll(projection, events.slice(events.length / 2, -3), half);
      assert.equal(canonicalize(stateJson(projection, half.state)), before, projection.name);
      assert.equal(projectionDigest(projection, half.state), half.digest);
      assert.notEqual(a.digest, b.digest);
      assert.equal(a.digest, (await foldAll(projection, events)).digest);
    }
  });

  it('refuses to digest a state holding persistent maps as if it were JSON', async () => {
    const { state } = await foldAll(runSummaryProjection, []);
    assert.throws(() => stateDigest(state), /projectionDigest/);
    assert.equal(projectionDigest(runSummaryProjection, state), stateDigest({ runs: {}, campaigns: {}, comparisons: {} }));
  });

  it('resumes a restarted projection from its stored position and reaches the rebuild digest', async () => {
    await appendRun('r1', 0.9);
    const first = await catchUp(store, dir, runSummaryProjection);
    assert.equal(first.resumedFrom, -1);
    assert.equal(await store.getPosition(consumerName(runSummaryProjection)), first.position);
    await appendRun('r2', 0.8);
    await store.append('campaign-c', campaignStreamEvents('c', ['r1', 'r2']));
    const resumed = await catchUp(store, dir, runSummaryProjection);
    assert.equal(resumed.resumedFrom, first.position, 'read only what followed the stored position');
    assert.equal(resumed.events, (await store.readAll()).length);
    const rebuilt = await catchUp(store, dir, runSummaryProjection, { rebuild: true, persist: false });
    assert.equal(resumed.digest, rebuilt.digest);
    const paged = await catchUp(store, dir, runSummaryProjection, { rebuild: true, persist: false, pageSize: 7 });
    assert.equal(paged.digest, rebuilt.digest, 'reading the log in pages of 7 changes nothing');
    assert.equal(paged.events, rebuilt.events);
    const graphLive = await catchUp(store, dir, comparisonGraphProjection);
    const graphRebuilt = await catchUp(store, dir, comparisonGraphProjection, { rebuild: true, persist: false });
    assert.equal(graphLive.digest, graphRebuilt.digest);
  });

  it('follows the store live, persisting every N events, and a restarted follower resumes where it stopped', async () => {
    await appendRun('r1', 0.9);
    const total = (await store.readAll()).length;
    const every = 4;
    const seen = await firstValueFrom(follow(store, dir, runSummaryProjection, every).pipe(take(total), toArray()));
    assert.equal(seen.at(-1)!.events, total);
    const stored = await store.getPosition(consumerName(runSummaryProjection));
    assert.equal(stored, seen[Math.floor(total / every) * every - 1]!.position, 'position stored at the last multiple of N');
    // Restart: the next live event is folded on top of the persisted state, not from scratch.
    await appendRun('r2', 0.8);
    const after = (await store.readAll()).length;
    const resumed = await firstValueFrom(follow(store, dir, runSummaryProjection, every).pipe(take(after - stored! - 1), toArray()));
    const rebuilt = await catchUp(store, dir, runSummaryProjection, { rebuild: true, persist: false });
    assert.equal(resumed.at(-1)!.events, after);
    assert.equal(projectionDigest(runSummaryProjection, resumed.at(-1)!.state), rebuilt.digest);
  });

  it('rebuilds from the start when the snapshot was tampered with or its position disagrees', async () => {
    await appendRun('r1', 0.9);
    const first = await catchUp(store, dir, runSummaryProjection);
    const path = snapshotPath(dir, runSummaryProjection.name);
    writeFileSync(path, readFileSync(path, 'utf8').replace('"testAccuracy":0.9', '"testAccuracy":0.99'));
    const afterTamper = await catchUp(store, dir, runSummaryProjection);
    assert.equal(afterTamper.resumedFrom, -1);
    assert.equal(afterTamper.digest, first.digest);
    await store.setPosition(consumerName(runSummaryProjection), 0);
    assert.equal((await catchUp(store, dir, runSummaryProjection)).resumedFrom, -1);
  });
});
