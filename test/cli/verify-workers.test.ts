// `runledger verify --workers N`: the parallel verifier reports byte for byte what the
// single-threaded one reports, on a clean store and after tampering.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pathToFileURL } from 'node:url';
import { freshHome, runCli } from '../support/cli.js';
import { WORKER_STARTED } from '../support/worker-start-marker.js';

const N = 3000;

describe('runledger verify --workers (end to end)', function () {
  this.timeout(120_000);
  let env: Record<string, string>;

  before(async () => {
    const home = freshHome();
    env = { RUNLEDGER_HOME: home };
    const input = Array.from({ length: N }, (_, i) => JSON.stringify({ stream: `w-${i % 17}`, type: 'custom.sample', data: { i } })).join('\n');
    for (const args of [['init'], ['append', '-'], ['checkpoint']]) {
      const res = await runCli(args, { env, input });
      assert.equal(res.code, 0, res.stderr);
    }
  });

  async function verifyWith(workers: string, ...extra: string[]): Promise<{ code: number; stdout: string }> {
    const res = await runCli(['verify', '--json', '--workers', workers, ...extra], { env });
    return { code: res.code, stdout: res.stdout };
  }

  /** The report without `workers`, which says what ran and so differs by design; and `workers`. */
  function split(stdout: string): { report: Record<string, unknown>; workers: unknown } {
    const { workers, ...report } = JSON.parse(stdout) as Record<string, unknown>;
    return { report, workers };
  }

  /**
   * Threads were started and checked the events: both, or only the first ready (the CLI starts them
   * once it knows the tree size, and N events take ~0.2 s); or, on a machine so loaded that neither
   * was ready before the main thread had checked all N itself, it says that (test/replay/ledger-verification
   * checks `used` against the threads' own counts with threads known to be ready).
   */
  function assertParallel(workers: unknown, parallelFrom: number): void {
    const { used, reason } = workers as { used: number; reason: string };
    assert.ok(used === 2 ? reason === 'as-requested' : used === 1 && (reason === 'as-requested' || reason === 'no-worker-checked'), JSON.stringify(workers));
    assert.deepEqual(workers, { requested: 2, used, reason, parallelFrom });
  }

  it('prints the same report with 1 and 2 workers on a clean store, and which threads checked the events', async () => {
    const one = await verifyWith('1');
    assert.equal(one.code, 0, one.stdout);
    assert.equal((JSON.parse(one.stdout) as { events: number }).events, N);
    const two = await verifyWith('2', '--parallel-from', '0');
    assert.equal(two.code, 0, two.stdout);
    assert.deepEqual(split(two.stdout).report, split(one.stdout).report);
    assert.deepEqual(split(one.stdout).workers, { requested: 1, used: 1, reason: 'as-requested', parallelFrom: 150_000 });
    assertParallel(split(two.stdout).workers, 0);
  });

  it('checks a ledger below --parallel-from (default 150000) on one thread, says so, and reports the same', async () => {
    const one = split((await verifyWith('1')).stdout);
    const small = await verifyWith('2');
    assert.equal(small.code, 0, small.stdout);
    assert.deepEqual(split(small.stdout), { report: one.report, workers: { requested: 2, used: 1, reason: 'small-ledger', parallelFrom: 150_000 } });
    // The threshold is the tree size itself: from N events the threads are used, below it not.
    const atThreshold = split((await verifyWith('2', '--parallel-from', String(N))).stdout);
    assert.deepEqual(atThreshold.report, one.report);
    assertParallel(atThreshold.workers, N);
    assert.deepEqual(split((await verifyWith('2', '--parallel-from', String(N + 1))).stdout), { report: one.report, workers: { requested: 2, used: 1, reason: 'small-ledger', parallelFrom: N + 1 } });
    const help = await runCli(['verify', '--help'], { env });
    assert.match(help.stdout.replace(/\s+/g, ' '), /default: 150000,/, 'the help names the default the report shows');
  });

  it('starts no worker thread for a ledger below --parallel-from, and the requested ones at it', async () => {
    const marker = pathToFileURL(join(import.meta.dirname, '../support/worker-start-marker.js')).href;
    const started = async (parallelFrom: number): Promise<number> => {
      const res = await runCli(['verify', '--json', '--workers', '2', '--parallel-from', String(parallelFrom)], { env: { ...env, NODE_OPTIONS: `--import ${marker}` } });
      assert.equal(res.code, 0, res.stderr);
      return res.stderr.split('\n').filter((line) => line === WORKER_STARTED).length;
    };
    assert.equal(await started(N + 1), 0);
    assert.equal(await started(N), 2, 'the marker counts the threads the CLI starts');
  });

  it('prints the same first divergence with 1 and 2 workers after a stored event is altered', async () => {
    const db = new Database(join(env.RUNLEDGER_HOME!, 'ledger.db'));
    const row = db.prepare('SELECT position, canonical FROM events WHERE stream = ? AND revision = ?').get('w-5', 150) as { position: number; canonical: Buffer };
    const tampered = Buffer.from(row.canonical);
    const at = tampered.indexOf('"i":') + 4;
    tampered[at] = tampered[at] === 0x31 ? 0x32 : 0x31;
    db.prepare('UPDATE events SET canonical = ? WHERE position = ?').run(tampered, row.position);
    db.close();
    const one = await verifyWith('1');
    assert.equal(one.code, 1, one.stdout);
    assert.equal((JSON.parse(one.stdout) as { firstDivergence: { revision: number } }).firstDivergence.revision, 150);
    const two = await verifyWith('2', '--parallel-from', '0');
    assert.equal(two.code, 1, two.stdout);
    assert.deepEqual(split(two.stdout).report, split(one.stdout).report);
    assertParallel(split(two.stdout).workers, 0);
  });

  it('refuses a worker count that is not a positive integer with exit 2', async () => {
    const res = await runCli(['verify', '--workers', '0'], { env });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /--workers must be an integer from 1 to 9999, got "0"/);
  });
});
