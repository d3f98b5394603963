// Export and verify-bundle stream (docs/bundle-format.md, "Reading and writing in bounded memory"):
// structural, not timed — each runs in a child process whose JavaScript heap is smaller than the
// bundle's proofs section, which a command holding the run or the bundle would exhaust (a parsed
// proofs section costs more heap than its bytes). And the streamed bytes are the format's, exactly.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateRun, storePath } from '../../bench/ledger-generator.js';
import { exportBundle, verifyBundle } from '../../src/bundle/bundle.js';
import { encodeBundle, readBundle } from '../../src/bundle/format.js';
import { loadVerifierKey } from '../../src/ledger/keys.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';

const CLI = resolve(fileURLToPath(import.meta.url), '../../../../bin/runledger.js');
const EVENTS = 45_000;
/** MiB of V8 old space for the child: less than the proofs section of EVENTS events (~50 MB, more once parsed). */
const HEAP_MIB = 40;

function cli(home: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [`--max-old-space-size=${HEAP_MIB}`, CLI, '--home', home, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('streaming export and verify-bundle', function () {
  this.timeout(300_000);
  let home: string;
  let bundle: string;

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'runledger-bundle-stream-'));
    bundle = join(home, 'run.bundle');
    await generateRun(home, 'big', EVENTS);
  });

  after(() => rmSync(home, { recursive: true, force: true }));

  it(`exports a run whose proofs section is larger than the child's ${HEAP_MIB} MiB heap`, () => {
    const r = cli(home, ['export', 'big', '--out', bundle, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { events: number; bytes: number };
    assert.equal(report.events, EVENTS);
    assert.equal(report.bytes, statSync(bundle).size);
    const proofs = readBundle(readFileSync(bundle)).sections.proofs.length;
    assert.ok(proofs > HEAP_MIB * 2 ** 20, `the proofs section (${proofs} bytes) must not fit the child's heap for the test to mean anything`);
  });

  it(`verifies that bundle with the same ${HEAP_MIB} MiB heap`, () => {
    const r = cli(home, ['verify-bundle', bundle, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { ok: boolean; events: number };
    assert.equal(report.ok, true);
    assert.equal(report.events, EVENTS);
  });

  it('writes the container encodeBundle writes, byte for byte, and the same bytes as the in-memory export', async () => {
    const written = readFileSync(bundle);
    assert.ok(encodeBundle(readBundle(written).sections).equals(written));
    const store = createSqliteStore({ path: storePath(home), readonly: true });
    try {
      const inMemory = await exportBundle(store, 'big', [loadVerifierKey(home)]);
      assert.ok(inMemory.bundle.equals(written));
      assert.equal(verifyBundle(inMemory.bundle, [loadVerifierKey(home)]).ok, true);
    } finally {
      await store.close();
    }
  });
});
