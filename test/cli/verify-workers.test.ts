// `runledger verify --workers N`: the parallel verifier reports byte for byte what the
// single-threaded one reports, on a clean store and after tampering.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { freshHome, runCli } from '../support/cli.js';

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

  async function verifyWith(workers: string): Promise<{ code: number; stdout: string }> {
    const res = await runCli(['verify', '--json', '--workers', workers], { env });
    return { code: res.code, stdout: res.stdout };
  }

  it('prints the same report with 1 and 2 workers on a clean store', async () => {
    const one = await verifyWith('1');
    assert.equal(one.code, 0, one.stdout);
    assert.equal((JSON.parse(one.stdout) as { events: number }).events, N);
    assert.deepEqual(await verifyWith('2'), one);
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
    assert.deepEqual(await verifyWith('2'), one);
  });

  it('refuses a worker count that is not a positive integer with exit 2', async () => {
    const res = await runCli(['verify', '--workers', '0'], { env });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /--workers must be an integer from 1 to 9999, got "0"/);
  });
});
