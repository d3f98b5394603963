// End to end: compare and gate with two or more candidates, and rederive — driven as a user would,
// then as an attacker with write access to the store would (a forged verdict appended directly).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, freshHome, repoRoot, runCli } from '../support/cli.js';
import { campaignStreamEvents, metrics, runStreamEvents } from '../../bench/fixtures/projection-log.js';
import { defaultStoreUrl, openStore } from '../../src/store/open.js';
import * as ref from './multi-reference.js';

type Group = keyof typeof ref.ACC;

async function withStore<T>(home: string, f: (store: Awaited<ReturnType<typeof openStore>>) => Promise<T>): Promise<T> {
  const store = await openStore(defaultStoreUrl(home));
  try {
    return await f(store);
  } finally {
    await store.close();
  }
}

describe('gates/multi-candidate CLI (end to end)', function () {
  this.timeout(120_000);
  let home: string;
  let env: Record<string, string>;
  const policy = join(repoRoot, 'docs', 'examples', 'policy-multi.yaml');
  const eventCount = async (): Promise<number> => JSON.parse((await runCli(['events', '--json'], { env })).stdout).count;

  before(async function () {
    if (!existsSync(cliPath) || !existsSync(join(repoRoot, 'dist', 'src', 'cli', 'main.js'))) {
      console.log('    (skipped: dist/ is not built; run "npm run build" first)');
      this.skip();
    }
    home = freshHome();
    env = { RUNLEDGER_HOME: home };
    assert.equal((await runCli(['init'], { env })).code, 0);
    // Fixture runs go straight into the store (as in cli.test.ts): their final metrics are the reference values.
    await withStore(home, (store) =>
      store.appendBatch(
        (Object.keys(ref.ACC) as Group[]).flatMap((name) => {
          const ids = ref.ACC[name].map((_, i) => `${name}-${i + 1}`);
          return [
            ...ids.map((runId, i) => ({ stream: `run-${runId}`, events: runStreamEvents({ runId, seed: i + 1, metrics: metrics(ref.ACC[name][i]!, ref.LOSS[name][i]!) }) })),
            { stream: `campaign-${name}`, events: campaignStreamEvents(name, ids) },
          ];
        }),
      ),
    );
  });

  after(() => home && rmSync(home, { recursive: true, force: true }));

  it('compares two candidates with a baseline under docs/examples/policy-multi.yaml (the issue\'s acceptance command)', async () => {
    const r = await runCli(['compare', '--baseline', 'baseline', '--candidate', 'candidate,candidate-2', '--policy', policy, '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.schema, 'runledger.multi-gate-report/v1');
    assert.deepEqual(report.candidates.map((c: { ref: string }) => c.ref), ['candidate', 'candidate-2']);
    assert.equal(report.family.size, 4);
    assert.equal(report.metrics[0].omnibus.kind, 'kruskal-wallis');
    assert.match(report.metrics[0].power.text, /^with n = 5 repeats per side the smallest detectable difference at α = 0\.0125/);
    assert.deepEqual(report.results.map((c: { ref: string; verdict: string }) => [c.ref, c.verdict]), [['candidate', 'fail'], ['candidate-2', 'pass']]);
    assert.equal(report.recorded.stream, `comparison-${report.comparisonId}`);
    const { events } = JSON.parse((await runCli(['events', '--stream', report.recorded.stream, '--json'], { env })).stdout);
    assert.deepEqual(events.map((e: { type: string }) => e.type), ['MultiComparisonRecorded', 'MultiGateEvaluated', 'AuditFinding', 'AuditFinding']);
  });

  it('gates CI on any failing candidate (exit 1) with a JUnit suite per candidate and Markdown; repeated --candidate means the same', async () => {
    const junit = join(home, 'multi.xml');
    const markdown = join(home, 'multi.md');
    const r = await runCli(['gate', '--baseline', 'baseline', '--candidate', 'candidate-2', '--candidate', 'candidate', '--policy', policy, '--junit', junit, '--markdown', markdown], { env });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /FAIL {2}candidate \(hard\) Δ -0\.0866: worse by 0\.0866/);
    assert.match(r.stdout, /power: with n = 5 repeats per side/);
    assert.match(readFileSync(junit, 'utf8'), /<testsuite name="regression candidate vs baseline" tests="2" failures="1"/);
    assert.match(readFileSync(markdown, 'utf8'), /\| candidate \| 0\.9026 \(n=5\) \| 0\.816 \(n=5\) \| -0\.0866 \|/);
    const passing = await runCli(['gate', '--baseline', 'baseline', '--candidate', 'candidate-2,candidate-3', '--policy', policy], { env });
    assert.equal(passing.code, 0, passing.stdout + passing.stderr);
  });

  it('re-derives recorded evidence (exit 0), and names the forged event when a "pass" is appended over a failing gate (exit 1)', async () => {
    const compared = JSON.parse((await runCli(['compare', '--baseline', 'baseline', '--candidate', 'candidate,candidate-3', '--policy', policy, '--json'], { env })).stdout);
    const ok = await runCli(['rederive', compared.comparisonId], { env });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /re-derived: every number, verdict and finding matches its recorded evidence; the recorded values are the final metrics and budgets of 15 runs in the ledger/);

    // The attacker copies the real evidence, flips the verdict and appends it straight into the store.
    const stream = compared.recorded.stream as string;
    const honest = await withStore(home, async (store) => {
      const events = await store.readStream(stream);
      const [recorded, evaluated] = events;
      const forged = structuredClone(evaluated!.envelope.data) as Record<string, unknown>;
      forged.verdict = 'pass';
      await store.append(stream, [{ type: 'MultiComparisonRecorded', data: recorded!.envelope.data }, { type: 'MultiGateEvaluated', data: forged }]);
      return events.length;
    });
    const bad = await runCli(['rederive', stream, '--json'], { env });
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    const result = JSON.parse(bad.stdout);
    assert.equal(result.ok, false);
    // The copied MultiComparisonRecorded re-derives; the flipped verdict right after it does not.
    assert.equal(result.firstDivergence.revision, honest + 1);
    assert.match(result.firstDivergence.message, new RegExp(`^${stream}@${honest + 1} \\(MultiGateEvaluated\\): field data\\.`));
  });

  it('refuses bad input with exit 2 and records nothing: a repeated or empty candidate, the baseline as a candidate, an unknown one, a bad policy', async () => {
    const before = await eventCount();
    const cases: [string[], RegExp][] = [
      [['--candidate', 'candidate,candidate'], /--candidate names "candidate" twice/],
      [['--candidate', 'candidate,,candidate-2'], /a candidate name is empty/],
      [['--candidate', 'baseline,candidate'], /--candidate baseline: "baseline" is the baseline/],
      [['--candidate', 'candidate,nope'], /--candidate nope: no run or campaign named "nope"/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['compare', '--baseline', 'baseline', ...args, '--policy', policy], { env });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const bad = join(home, 'bad-multi.yaml');
    writeFileSync(bad, 'version: 1\ncandidates:\n  omnibus: friedman\nrules:\n  - {metric: testAccuracy, direction: higher-is-better}\n');
    const r = await runCli(['gate', '--baseline', 'baseline', '--candidate', 'candidate,candidate-2', '--policy', bad], { env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad-multi\.yaml line 3: field candidates\.omnibus must be one of "kruskal-wallis", "anova"/);
    assert.equal(await eventCount(), before);
    assert.equal((await runCli(['rederive', 'not-an-id'], { env })).code, 2);
    assert.match((await runCli(['rederive', 'f'.repeat(32)], { env })).stderr, /no comparison f{32} in this ledger/);
  });
});
