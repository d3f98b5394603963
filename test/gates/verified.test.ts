// The gates judge only verified runs: metrics come from each run's replay against a signed
// checkpoint, never from a stored projection an attacker could rewrite, and a run that does not
// verify fails the gate (exit 1) by name.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stateDigest } from '../../projections/projection.js';
import { snapshotPath } from '../../projections/snapshots.js';
import { defaultStoreUrl, openStore } from '../../src/store/open.js';
import { campaignStreamEvents, metrics, runStreamEvents } from '../../bench/fixtures/projection-log.js';
import { freshHome, runCli } from '../support/cli.js';
import { forgeIntoSqlite, forgeries } from '../support/forge.js';
import { fixtureWorker } from '../../bench/fixtures/worker-key.js';

const accuracies = { base: [0.9, 0.91, 0.92], cand: [0.8, 0.81, 0.82] };

describe('gates judge only verified runs', function () {
  this.timeout(120_000);
  let home: string;
  let env: Record<string, string | undefined>;
  const gate = async (...extra: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    runCli(['gate', '--baseline', 'base', '--candidate', 'cand', '--json', ...extra], { env });

  before(async () => {
    home = freshHome('runledger-gates-verified-');
    env = { RUNLEDGER_HOME: home, RUNLEDGER_STORE: undefined };
    assert.equal((await runCli(['init'], { env })).code, 0);
    const store = await openStore(defaultStoreUrl(home));
    try {
      for (const [name, values] of Object.entries(accuracies)) {
        const ids = values.map((_, i) => `${name}-${i + 1}`);
        await store.appendBatch([
          ...ids.map((runId, i) => ({ stream: `run-${runId}`, events: runStreamEvents({ runId, seed: i + 1, metrics: metrics(values[i]!, 0.3) }) })),
          { stream: `campaign-${name}`, events: campaignStreamEvents(name, ids) },
        ]);
      }
    } finally {
      await store.close();
    }
  });
  after(() => home && rmSync(home, { recursive: true, force: true }));

  it('takes metrics from each run\'s replay: a projection snapshot rewritten with its digest recomputed changes nothing', async () => {
    const genuine = await gate();
    assert.equal(genuine.code, 1, genuine.stderr);
    const report = JSON.parse(genuine.stdout) as { rules: { metric: string; candidate: { values: number[] } }[]; verifiedRuns: string[] };
    assert.deepEqual(report.verifiedRuns, ['base-1', 'base-2', 'base-3', 'cand-1', 'cand-2', 'cand-3']);
    const values = report.rules.find((r) => r.metric === 'testAccuracy')!.candidate.values;
    assert.deepEqual(values, accuracies.cand);

    // An attacker with the home rewrites the stored run-summary so the candidate looks perfect.
    const file = snapshotPath(home, 'run-summary');
    const snapshot = JSON.parse(readFileSync(file, 'utf8')) as { digest: string; state: { runs: Record<string, { finalMetrics: { testAccuracy: number } }> } };
    for (const runId of ['cand-1', 'cand-2', 'cand-3']) snapshot.state.runs[runId]!.finalMetrics.testAccuracy = 1;
    snapshot.digest = stateDigest(snapshot.state);
    writeFileSync(file, JSON.stringify(snapshot));
    const again = await gate();
    assert.equal(again.code, 1, again.stderr);
    const after = JSON.parse(again.stdout) as typeof report;
    assert.deepEqual(after.rules.find((r) => r.metric === 'testAccuracy')!.candidate.values, accuracies.cand);
  });

  it('fails (exit 1) naming a run with a forged TrainingCompleted written straight into the store, and judges nothing', async () => {
    const run = runStreamEvents({ runId: 'cand-2', seed: 2, metrics: metrics(0.81, 0.3) });
    const checkpoint = run.find((e) => e.type === 'CheckpointWritten')!.data as { digest: string; epoch: number; step: number; metrics: never };
    const forged = forgeries({ runId: 'cand-2', trustedKey: fixtureWorker.publicKey, checkpoint }).find((f) => f.event.type === 'TrainingCompleted')!.event;
    const id = forgeIntoSqlite(join(home, 'ledger.db'), 'run-cand-2', forged);
    for (const command of [['gate', '--baseline', 'base', '--candidate', 'cand'], ['compare', '--baseline', 'base', '--candidate', 'cand'], ['budgets', 'cand']]) {
      const res = await runCli(command, { env });
      assert.equal(res.code, 1, `${command[0]}: ${res.stdout}${res.stderr}`);
      assert.match(res.stderr, new RegExp(`^runledger: run cand-2 does not verify \\(check write-rule\\), so the gate uses none of its metrics: Event ${id} \\(TrainingCompleted`), command[0]);
    }
  });
});
