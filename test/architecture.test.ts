// The layering rule of .dependency-cruiser.cjs holds for the whole tree: arrows run from shell to
// core, nothing shipped imports a harness, drivers stay in their adapter, no cycles. `npm run lint`
// checks the same; this keeps it checked where only `npm test` runs (CI).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './support/cli.js';

describe('architecture', function () {
  this.timeout(120_000);
  it('has no dependency that breaks a layering rule', () => {
    const bin = join(repoRoot, 'node_modules', '.bin', 'depcruise');
    const res = spawnSync(bin, ['--config', '.dependency-cruiser.cjs', '--output-type', 'json', 'events', 'src', 'projections', 'workers', 'bench', 'test', 'infra'], {
      cwd: repoRoot,
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    });
    assert.ok(res.stdout, `depcruise printed nothing: ${res.stderr}`);
    const report = JSON.parse(res.stdout) as { summary: { violations: { rule: { name: string }; from: string; to: string }[]; totalCruised: number } };
    assert.ok(report.summary.totalCruised > 100, 'the cruise found the sources');
    assert.deepEqual(report.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`), []);
  });
});
