// End to end: the gate, compare, project and bench-compare commands driven as a user would.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, freshHome, repoRoot, runCli } from '../support/cli.js';
import { campaignStreamEvents, metrics, runStreamEvents } from '../../bench/fixtures/projection-log.js';
import { defaultStoreUrl, openStore } from '../../src/store/open.js';

// Fixture runs go straight into the store: `runledger append` refuses plan and stage events, which
// only the plan-checking commands may record, and these fixtures are built without executing plans.
async function appendFixtures(home: string, streams: Record<string, ReturnType<typeof runStreamEvents>>): Promise<void> {
  const store = await openStore(defaultStoreUrl(home));
  try {
    await store.appendBatch(Object.entries(streams).map(([stream, events]) => ({ stream, events })));
  } finally {
    await store.close();
  }
}

const baseAcc = [0.9, 0.912, 0.905, 0.895, 0.901];
const noisyAcc = [0.911, 0.894, 0.9, 0.904, 0.899];
const worseAcc = [0.81, 0.83, 0.8, 0.825, 0.815];

function campaign(name: string, accuracies: number[], budgets = {}): Record<string, ReturnType<typeof runStreamEvents>> {
  const ids = accuracies.map((_, i) => `${name}-${i + 1}`);
  const streams: Record<string, ReturnType<typeof runStreamEvents>> = {};
  ids.forEach((runId, i) => (streams[`run-${runId}`] = runStreamEvents({ runId, seed: i + 1, metrics: metrics(accuracies[i]!, 0.3), budgets })));
  streams[`campaign-${name}`] = campaignStreamEvents(name, ids);
  return streams;
}

const POLICY = `version: 1
seed: 3
rules:
  - metric: testAccuracy
    direction: higher-is-better
    absolute: 0.005
    test: bootstrap
  - metric: trainAccuracy
    direction: higher-is-better
    absolute: 0.005
    severity: soft
`;

describe('gates/cli (end to end)', function () {
  this.timeout(120_000);
  let home: string;
  let env: Record<string, string>;
  let policy: string;

  before(async function () {
    if (!existsSync(cliPath) || !existsSync(join(repoRoot, 'dist', 'src', 'cli', 'main.js'))) {
      console.log('    (skipped: dist/ is not built; run "npm run build" first)');
      this.skip();
    }
    home = freshHome();
    env = { RUNLEDGER_HOME: home, RUNLEDGER_STORE: '' };
    delete (env as Record<string, string | undefined>).RUNLEDGER_STORE;
    policy = join(home, 'policy.yaml');
    writeFileSync(policy, POLICY);
    assert.equal((await runCli(['init'], { env })).code, 0);
    await appendFixtures(home, {
      ...campaign('base', baseAcc),
      ...campaign('noisy', noisyAcc),
      ...campaign('worse', worseAcc, { train: { maxWallMs: 10 } }),
    });
  });

  after(() => home && rmSync(home, { recursive: true, force: true }));

  it('fails the gate on a clear regression with exit 1 and writes JUnit and Markdown reports', async () => {
    const junit = join(home, 'out.xml');
    const markdown = join(home, 'out.md');
    const r = await runCli(['gate', '--baseline', 'base', '--candidate', 'worse', '--policy', policy, '--junit', junit, '--markdown', markdown], { env });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /FAIL {2}testAccuracy/);
    assert.match(r.stdout, /FAIL {2}budget worse-1\/train maxWallMs/);
    assert.match(readFileSync(junit, 'utf8'), /<failure message="worse by/);
    assert.match(readFileSync(markdown, 'utf8'), /\| testAccuracy \| higher-is-better \| 0.9026 \(n=5\) \| 0.816 \(n=5\) \|/);
  });

  it('gate --github prints ::error annotations for hard breaches and ::warning for soft ones (stderr with --json)', async () => {
    const r = await runCli(['gate', '--baseline', 'base', '--candidate', 'worse', '--policy', policy, '--github'], { env });
    assert.equal(r.code, 1, r.stderr);
    const annotations = r.stdout.split('\n').filter((l) => l.startsWith('::'));
    assert.ok(annotations.some((l) => /^::error title=runledger gate%3A testAccuracy \(hard\)::worse by /.test(l)), annotations.join('\n'));
    assert.ok(annotations.some((l) => /^::error title=runledger gate%3A budget worse-1\/train maxWallMs \(hard\)::/.test(l)));
    const json = await runCli(['gate', '--baseline', 'base', '--candidate', 'worse', '--policy', policy, '--github', '--json'], { env });
    assert.equal(json.code, 1);
    assert.equal(JSON.parse(json.stdout).verdict, 'fail', 'stdout stays one JSON document');
    assert.match(json.stderr, /^::error title=runledger gate%3A testAccuracy/m);
    const plain = await runCli(['gate', '--baseline', 'base', '--candidate', 'worse', '--policy', policy], { env });
    assert.doesNotMatch(plain.stdout + plain.stderr, /^::/m, 'no annotations unless asked');
  });

  it('passes noise within the interval (exit 0) and a candidate equal to its baseline', async () => {
    const noisy = await runCli(['gate', '--baseline', 'base', '--candidate', 'noisy', '--policy', policy, '--json'], { env });
    assert.equal(noisy.code, 0, noisy.stderr);
    const report = JSON.parse(noisy.stdout);
    assert.equal(report.rules[0].verdict, 'pass');
    assert.ok(report.rules[0].regression > 0, 'the candidate mean is lower, yet within noise');
    assert.equal((await runCli(['gate', '--baseline', 'base', '--candidate', 'base', '--policy', policy], { env })).code, 0);
  });

  it('passes soft breaches with a warning, and fails them under --strict', async () => {
    // A soft rule with no tolerance: noisy's mean trainAccuracy is slightly lower than base's.
    const tight = join(home, 'tight.yaml');
    writeFileSync(tight, 'version: 1\nrules:\n  - {metric: trainAccuracy, direction: higher-is-better, absolute: 0, test: none, severity: soft}\n');
    const lenient = await runCli(['gate', '--baseline', 'base', '--candidate', 'noisy', '--policy', tight], { env });
    assert.equal(lenient.code, 0, lenient.stderr);
    assert.match(lenient.stderr, /soft breach/);
    const strict = await runCli(['gate', '--baseline', 'base', '--candidate', 'noisy', '--policy', tight, '--strict'], { env });
    assert.equal(strict.code, 1);
  });

  it('refuses a malformed policy with exit 2 naming file, line and field, and records nothing', async () => {
    const before = (await runCli(['events', '--json'], { env })).stdout.length;
    const bad = join(home, 'bad.yaml');
    writeFileSync(bad, 'version: 1\nrules:\n  - metric: testAccuracy\n    direction: up\n');
    const r = await runCli(['gate', '--baseline', 'base', '--candidate', 'worse', '--policy', bad], { env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.yaml line 4: field rules\[0\]\.direction must be one of "higher-is-better", "lower-is-better"/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal((await runCli(['events', '--json'], { env })).stdout.length, before);
  });

  it('names an unknown baseline with exit 2', async () => {
    const r = await runCli(['compare', '--baseline', 'nope', '--candidate', 'worse'], { env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--baseline nope: no run or campaign named "nope"/);
  });

  it('records the gate as events that the projections and graph pick up, idempotently', async () => {
    const first = JSON.parse((await runCli(['compare', '--baseline', 'base', '--candidate', 'worse', '--policy', policy, '--json'], { env })).stdout);
    const again = JSON.parse((await runCli(['compare', '--baseline', 'base', '--candidate', 'worse', '--policy', policy, '--json'], { env })).stdout);
    assert.equal(again.comparisonId, first.comparisonId);
    assert.equal(again.recorded.duplicate, true);
    const summary = JSON.parse((await runCli(['project', 'summary', 'worse-1', '--json'], { env })).stdout);
    const comparison = summary.comparisons.find((c: { comparisonId: string }) => c.comparisonId === first.comparisonId);
    assert.deepEqual(comparison.baselineRuns, ['base-1', 'base-2', 'base-3', 'base-4', 'base-5']);
    assert.equal(comparison.aggregation, 'mean');
    assert.equal(comparison.role, 'candidate');
    const deltas = JSON.parse(readFileSync(join(home, 'runs', 'worse-1', 'deltas.json'), 'utf8'));
    assert.equal(deltas.schema, 'runledger.delta-index/v1');
    const graph = JSON.parse(readFileSync(join(home, 'runs', 'worse-1', 'graph.json'), 'utf8'));
    assert.ok(graph.edges.some((e: { type: string; from: string; to: string }) => e.type === 'compared-with' && e.from === 'campaign:worse' && e.to === 'campaign:base'));
  });

  it('records a typed link once and draws it in the run graph', async () => {
    const first = await runCli(['project', 'link', 'run:noisy-1', 'replay-of', 'base-1', '--json'], { env });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(JSON.parse(first.stdout).duplicate, false);
    assert.equal(JSON.parse((await runCli(['project', 'link', 'noisy-1', 'replay-of', 'run:base-1', '--json'], { env })).stdout).duplicate, true);
    const deltas = JSON.parse(readFileSync(join(home, 'runs', 'noisy-1', 'deltas.json'), 'utf8'));
    const entry = deltas.entries.find((e: { type: string }) => e.type === 'replay-of');
    assert.equal(entry.other, 'run:base-1');
    assert.ok(Math.abs(entry.deltas.testAccuracy.delta - (noisyAcc[0]! - baseAcc[0]!)) < 1e-12);
  });

  it('rebuilds projections with digests identical to the live ones and byte-identical artifacts', async () => {
    const graphFile = join(home, 'runs', 'base-1', 'graph.json');
    const r1 = await runCli(['project', 'rebuild', '--json'], { env });
    assert.equal(r1.code, 0, r1.stderr);
    const first = JSON.parse(r1.stdout);
    assert.ok(first.projections.every((p: { matchesLive: boolean }) => p.matchesLive));
    const bytes = readFileSync(graphFile);
    rmSync(join(home, 'projections'), { recursive: true, force: true });
    rmSync(join(home, 'runs'), { recursive: true, force: true });
    const second = JSON.parse((await runCli(['project', 'rebuild', '--json'], { env })).stdout);
    assert.deepEqual(second.projections.map((p: { digest: string }) => p.digest), first.projections.map((p: { digest: string }) => p.digest));
    assert.equal(second.artifacts.digest, first.artifacts.digest);
    assert.ok(readFileSync(graphFile).equals(bytes));
  });

  it("validates a campaign's budgets, recording one AuditFinding per breach on each run's stream, once", async () => {
    const first = await runCli(['budgets', 'worse', '--json'], { env });
    assert.equal(first.code, 1, first.stderr);
    const report = JSON.parse(first.stdout);
    assert.equal(report.hardBreaches, 5);
    assert.deepEqual(report.recorded, ['run-worse-1', 'run-worse-2', 'run-worse-3', 'run-worse-4', 'run-worse-5']);
    const again = JSON.parse((await runCli(['budgets', 'worse', '--json'], { env })).stdout);
    assert.deepEqual(again.recorded, [], 'validating again records nothing new');
    const summary = JSON.parse((await runCli(['project', 'summary', 'worse-1', '--json'], { env })).stdout);
    assert.deepEqual(summary.findings, { hard: 1, soft: 0, info: 0 });
    assert.equal((await runCli(['budgets', 'base'], { env })).code, 0);
  });

  it('re-projects a replayed run to the digest its replay manifest records', async () => {
    assert.equal((await runCli(['checkpoint'], { env })).code, 0);
    const manifest = join(home, 'm.json');
    // worse-1 carries the budget findings appended after its RunCompleted: still a valid run.
    const replay = await runCli(['replay', 'worse-1', '--out', manifest], { env });
    assert.equal(replay.code, 0, replay.stderr);
    const summary = JSON.parse((await runCli(['project', 'summary', 'worse-1', '--json'], { env })).stdout);
    const recorded = JSON.parse(readFileSync(manifest, 'utf8'));
    assert.equal(recorded.projections.runSummary, summary.provenanceDigest);
    assert.equal(recorded.projections.runState, summary.summaryDigest);
  });

  it('bench-compare exits 0 for identical files or a slower machine, 1 when a ratio regressed, 2 on a malformed file', async () => {
    const baseline = join(repoRoot, 'bench', 'baseline.json');
    assert.equal((await runCli(['bench-compare', baseline, baseline, '--max-regression', '10%'])).code, 0);
    const doc = JSON.parse(readFileSync(baseline, 'utf8'));
    const results = (Array.isArray(doc) ? doc : doc.results).map((r: { wallMs: { p50: number }; throughputPerSec: number }) => ({
      ...r,
      wallMs: { ...r.wallMs, p50: r.wallMs.p50 * 1.5 },
      throughputPerSec: r.throughputPerSec / 1.5,
    }));
    const slower = join(home, 'slower.json');
    writeFileSync(slower, JSON.stringify({ results }));
    // Everything 1.5× slower, same-run ratios unchanged: a loaded machine, not a regression.
    const loaded = await runCli(['bench-compare', baseline, slower, '--max-regression', '10%', '--json'], { env });
    assert.equal(loaded.code, 0, loaded.stdout);
    assert.equal(JSON.parse(loaded.stdout).mode, 'ratio');
    const r = await runCli(['bench-compare', baseline, slower, '--max-regression', '10%', '--absolute', '--json'], { env });
    assert.equal(r.code, 1);
    assert.equal(JSON.parse(r.stdout).verdict, 'fail');
    // Ratios three times worse: beyond the threshold and beyond the baseline's measurement noise.
    const worse = (results as { ratio?: number; goal?: number; goalIs?: string }[]).map((x) => (x.ratio === undefined ? x : { ...x, ratio: x.goalIs === 'max' ? x.ratio * 3 : x.ratio / 3 }));
    writeFileSync(slower, JSON.stringify({ results: worse }));
    const regressed = await runCli(['bench-compare', baseline, slower, '--json'], { env });
    assert.equal(regressed.code, 1);
    assert.equal(JSON.parse(regressed.stdout).regressions, worse.filter((x) => x.ratio !== undefined && x.goal !== undefined).length);
    writeFileSync(slower, '[{"name": 1}]');
    const bad = await runCli(['bench-compare', baseline, slower], { env });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /slower\.json: field \[0\]\.name/);
  });
});
