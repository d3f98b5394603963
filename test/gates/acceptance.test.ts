// The acceptance path on real training: two 5-run campaigns (a plan and a plan that really
// trains worse), the CI gate both ways, a rebuild matching the live projections, bench-compare.
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
