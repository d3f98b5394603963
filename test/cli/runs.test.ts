// `runledger runs`: the runs of a ledger with status, plan, metrics and the dashboard's badge —
// which must follow the evidence: unsigned before a checkpoint, verified after, failed once a
// stored byte of the run changes.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { freshHome, runCli } from '../support/cli.js';

interface Listing {
  count: number;
  runs: { runId: string; status: string; plan: string | null; metrics: unknown; verification: string; verificationDetail: string; updatedAt: string | null }[];
}

describe('runledger runs', function () {
  this.timeout(120_000);
  let home: string;
  let env: Record<string, string | undefined>;
  const cli = async (...args: string[]) => {
    const res = await runCli(args, { env });
    assert.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
    return res;
  };
  const list = async (): Promise<Listing> => JSON.parse((await cli('runs', '--json')).stdout) as Listing;

  before(async () => {
    home = freshHome('runledger-runs-');
    env = { RUNLEDGER_HOME: home, RUNLEDGER_STORE: undefined, RUNLEDGER_ACTOR: 'alice@example.org' };
    await cli('init');
  });
  after(() => rmSync(home, { recursive: true, force: true }));

  it('says there are no runs yet', async () => {
    assert.deepEqual(await list(), { count: 0, runs: [] });
    assert.match((await cli('runs')).stdout, /^No runs yet/);
  });

  it('lists a governed run with its status and plan, unsigned until a checkpoint covers it, then verified', async () => {
    await cli('plan', 'approve', 'docs/examples/plan.yaml', '--run', 'r1');
    for (const stage of ['prepare', 'train', 'evaluate']) {
      await cli('stage', 'start', 'r1', stage);
      await cli('stage', 'complete', 'r1', stage);
    }
    const before = await list();
    assert.equal(before.count, 1);
    assert.equal(before.runs[0]!.runId, 'r1');
    assert.equal(before.runs[0]!.status, 'completed');
    assert.equal(before.runs[0]!.plan, 'iris-baseline');
    assert.equal(before.runs[0]!.metrics, null, 'a governed run that trained nothing has no metrics');
    assert.equal(before.runs[0]!.verification, 'unsigned');
    await cli('checkpoint');
    assert.equal((await list()).runs[0]!.verification, 'verified');
  });

  it('lists the most recently updated run first, as the dashboard does', async () => {
    await cli('plan', 'approve', 'docs/examples/plan.yaml', '--run', 'r2');
    const listing = await list();
    assert.deepEqual(listing.runs.map((r) => r.runId), ['r2', 'r1']);
    assert.equal(listing.runs[0]!.status, 'planned');
    assert.notEqual(listing.runs[0]!.verification, 'verified', 'r2 came after the checkpoint');
    const text = (await cli('runs')).stdout.split('\n');
    assert.match(text[0]!, /^RUN\s+STATUS\s+PLAN\s+METRICS\s+VERIFICATION\s+UPDATED$/);
    assert.match(text[1]!, /^r2\s+planned\s+iris-baseline\s+-\s+\w+/);
    assert.match(text[2]!, /^r1\s+completed\s+iris-baseline\s+-\s+verified\s/);
    assert.ok(text.some((l) => /^2 runs;/.test(l)));
  });

  it('shows "failed" once a stored byte of the run no longer matches the signed checkpoint', async () => {
    const db = new Database(join(home, 'ledger.db'));
    // The run's last event: what the badge proves included (and what a full replay re-checks too).
    const row = db.prepare('SELECT position, canonical FROM events WHERE stream = ? ORDER BY revision DESC LIMIT 1').get('run-r1') as { position: number; canonical: Buffer };
    const tampered = Buffer.from(row.canonical.toString('utf8').replace('alice@example.org', 'mallory@example.org'));
    assert.notDeepEqual(tampered, row.canonical);
    db.prepare('UPDATE events SET canonical = ? WHERE position = ?').run(tampered, row.position);
    db.close();
    const r1 = (await list()).runs.find((r) => r.runId === 'r1')!;
    assert.equal(r1.verification, 'failed', r1.verificationDetail);
    assert.match((await cli('runs')).stdout, /^r1\s+completed\s+iris-baseline\s+-\s+failed\s/m);
  });
});
