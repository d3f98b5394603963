// Export holds no proof table (docs/bundle-format.md, "Reading and writing in bounded memory"):
// structural, not timed. A real run sits at the start of a log of 2 M leaves (the rest synthetic
// leaf hashes, under a checkpoint signed by the ledger's key), so the whole table of perfect subtrees
// would be 64 bytes per leaf, 128 MiB of Buffers outside the V8 heap — which a heap limit does not
// see, so the test watches `arrayBuffers` while the export runs.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateRun, storePath } from '../../bench/ledger-generator.js';
import { verifyBundle, writeBundle } from '../../src/bundle/bundle.js';
import { signCheckpoint } from '../../src/integrity/checkpoint.js';
import { rootOfLeaves } from '../../src/integrity/compact-range.js';
import { loadSigner, loadVerifierKey } from '../../src/ledger/keys.js';
import { requireOrigin } from '../../src/ledger/origin.js';
import type { EventStore, StoredCheckpoint } from '../../src/store/port.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';

const SYNTHETIC = 2 ** 21;
/** The whole table's size; the export may hold a quarter of it, including its page of leaf hashes. */
const TABLE_BYTES = 64 * SYNTHETIC;

describe('export in bounded memory', function () {
  this.timeout(120_000);
  let home: string;
  let store: EventStore;

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'runledger-bounded-proofs-'));
    await generateRun(home, 'small', 30);
    store = createSqliteStore({ path: storePath(home), readonly: true });
  });

  after(async () => {
    await store.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('exports a run of a 2 M-leaf log without holding the 128 MiB proof table, and the bundle verifies', async () => {
    const real = (await store.checkpoints()).at(-1)!.size;
    const size = real + SYNTHETIC;
    const realLeaves = await store.leafHashes(0, real);
    const leaf = (i: number): string => (i < real ? realLeaves[i]! : i.toString(16).padStart(64, 'f'));
    function* leaves(): Generator<Buffer> {
      for (let i = 0; i < size; i++) yield Buffer.from(leaf(i), 'hex');
    }
    const root = rootOfLeaves(leaves());
    const note = signCheckpoint(await requireOrigin(store), size, root, loadSigner(home));
    const large: StoredCheckpoint = { size, root: root.toString('hex'), note, createdAt: new Date().toISOString() };
    // The real store, with a log that goes on past the run.
    const log = new Proxy(store, {
      get(target, name) {
        if (name === 'leafHashes') return async (from: number, to: number) => Array.from({ length: Math.max(0, Math.min(size, to) - from) }, (_, k) => leaf(from + k));
        if (name === 'checkpoints') return async () => [...(await target.checkpoints()), large];
        const value: unknown = Reflect.get(target, name, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });

    const before = process.memoryUsage().arrayBuffers;
    let peak = 0;
    const sample = (): void => {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    };
    const chunks: Buffer[] = [];
    await writeBundle(log, 'small', [loadVerifierKey(home)], (chunk) => (chunks.push(Buffer.from(chunk)), sample()), sample);
    assert.ok(peak < TABLE_BYTES / 4, `export held ${(peak / 2 ** 20).toFixed(1)} MiB of Buffers while it wrote the bundle; the whole proof table is ${TABLE_BYTES / 2 ** 20} MiB`);
    const report = verifyBundle(Buffer.concat(chunks), [loadVerifierKey(home)]);
    assert.equal(report.ok, true, report.firstDivergence?.message);
    assert.equal(report.checkpoint?.size, size);
  });
});
