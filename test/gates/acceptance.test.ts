// The acceptance path on real training: three 5-run campaigns (a plan, a plan that really
// trains worse, a wider variant), the CI gate both ways, both candidates at once, a rebuild matching
// the live projections, bench-compare.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freshHome, repoRoot, runCli } from '../support/cli.js';

describe('gates acceptance: real campaigns through the CI gate', function () {
  this.timeout(300_000);
  let home: string;
  let env: Record<string, string>;

  before(async function () {
    if (!existsSync(join(repoRoot, 'dist', 'src', 'cli', 'main.js'))) {
      console.log('    (skipped: dist/ is not built; run "npm run build" first)');
      this.skip();
    }
    home = freshHome();
    env = { RUNLEDGER_HOME: home };
    assert.equal((await runCli(['init'], { env })).code, 0);
    for (const [plan, name] of <[string, string][]>[
      ['docs/examples/train.yaml', 'base'],
      ['docs/examples/train-regressed.yaml', 'cand'],
      ['docs/examples/train-candidate-2.yaml', 'cand-2'],
    ]) {
      const r = await runCli(['campaign', '--plan', plan, '--repeats', '5', '--name', name, '--json'], { env });
      assert.equal(r.code, 0, r.stderr);
    }
  });

  after(() => home && rmSync(home, { recursive: true, force: true }));

  it('fails the regressed campaign (exit 1) and passes the baseline against itself (exit 0)', async () => {
    const policy = join(repoRoot, 'docs', 'examples', 'policy.yaml');
    const junit = join(home, 'out.xml');
    const markdown = join(home, 'out.md');
    const fail = await runCli(['gate', '--baseline', 'base', '--candidate', 'cand', '--policy', policy, '--junit', junit, '--markdown', markdown], { env });
    assert.equal(fail.code, 1, fail.stdout + fail.stderr);
    assert.match(readFileSync(junit, 'utf8'), /<failure message="worse by [^"]+" type="hard-breach">/);
    assert.match(readFileSync(markdown, 'utf8'), /\| testAccuracy \| higher-is-better \| .* \| ❌ fail \|/);
    const pass = await runCli(['gate', '--baseline', 'base', '--candidate', 'base', '--policy', policy], { env });
    assert.equal(pass.code, 0, pass.stdout + pass.stderr);
  });

  it('compares both candidates with the baseline at once under docs/examples/policy-multi.yaml, and the evidence re-derives', async () => {
    const policy = join(repoRoot, 'docs', 'examples', 'policy-multi.yaml');
    const r = await runCli(['compare', '--baseline', 'base', '--candidate', 'cand,cand-2', '--policy', policy, '--json'], { env });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(report.results.map((c: { ref: string; verdict: string }) => [c.ref, c.verdict]), [['cand', 'fail'], ['cand-2', 'pass']]);
    assert.equal(report.metrics.length, 2);
    assert.ok(report.metrics.every((m: { omnibus: unknown; power: unknown }) => m.omnibus !== null && m.power !== null));
    const rederived = await runCli(['rederive', report.comparisonId], { env });
    assert.equal(rederived.code, 0, rederived.stdout + rederived.stderr);
  });

  it('rebuilds every projection to the digest of the live one', async () => {
    const r = await runCli(['project', 'rebuild', '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(report.projections.map((p: { name: string; matchesLive: boolean }) => [p.name, p.matchesLive]), [
      ['run-summary', true],
      ['comparison-graph', true],
    ]);
    assert.equal(report.artifacts.unchanged, report.artifacts.files, 'artifacts written by the gate are byte-identical to the rebuild');
  });

  it('passes bench-compare of the committed baseline against itself', async () => {
    const baseline = join(repoRoot, 'bench', 'baseline.json');
    assert.equal((await runCli(['bench-compare', baseline, baseline, '--max-regression', '10%'])).code, 0);
  });
});
