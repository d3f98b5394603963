// The acceptance path of the governance ledger, driven through the CLI as a user would.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshHome, repoRoot, runCli } from '../support/cli.js';

describe('runledger plan / stage / replay / export / verify-bundle', function () {
  this.timeout(180_000);
  const home = freshHome();
  const env = { RUNLEDGER_HOME: home, RUNLEDGER_STORE: undefined, RUNLEDGER_ACTOR: 'auditor-test' };
  const cli = (...args: string[]) => runCli(args, { env });
  const plan = join(repoRoot, 'docs', 'examples', 'plan.yaml');
  let stages: string[] = [];
  let governancePlanHash = '';

  before(async () => {
    const init = await cli('init');
    assert.equal(init.code, 0, init.stderr);
  });

  it('validates the example plan and prints both hashes', async () => {
    const res = await cli('plan', 'validate', plan, '--json');
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout) as { governancePlanHash: string; executionPlanHash: string; stages: string[] };
    assert.match(out.governancePlanHash, /^[0-9a-f]{64}$/);
    assert.match(out.executionPlanHash, /^[0-9a-f]{64}$/);
    stages = out.stages;
    governancePlanHash = out.governancePlanHash;
  });

  it('names the line and field of a bad plan with exit 2', async () => {
    const bad = join(home, 'bad.yaml');
    writeFileSync(bad, readFileSync(plan, 'utf8').replace('  approver: alice@example.org', '  approver: alice@example.org\n  aprover: typo'));
    const res = await cli('plan', 'validate', bad);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /bad\.yaml:\d+: field governance\.aprover: unknown field "aprover"/);
    assert.doesNotMatch(res.stderr, /at .*\.js:\d+/, 'no stack trace');
  });

  it('approves the plan for a run and prints the same hashes', async () => {
    const res = await cli('plan', 'approve', plan, '--run', 'r1', '--json');
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout) as { governancePlanHash: string; recorded: boolean };
    assert.equal(out.governancePlanHash, governancePlanHash);
    assert.equal(out.recorded, true);
  });

  it('rejects a stage out of plan order with exit 2 and records nothing', async () => {
    const res = await cli('stage', 'start', 'r1', stages[1]!);
    assert.equal(res.code, 2);
    assert.match(res.stderr, new RegExp(`stage ${stages[1]} of run r1 depends on ${stages[0]}, which has not completed; nothing was recorded`));
    const outOfPlan = await cli('stage', 'start', 'r1', 'deploy');
    assert.equal(outOfPlan.code, 2);
    assert.match(outOfPlan.stderr, /not in the execution plan/);
    const events = await cli('events', '--stream', 'run-r1', '--json');
    assert.equal(events.code, 0, events.stderr);
    assert.doesNotMatch(events.stdout, /StageStarted/);
  });

  it('records every stage in order and completes the run', async () => {
    for (const stage of stages) {
      const start = await cli('stage', 'start', 'r1', stage, '--inputs', `seed=${'a'.repeat(64)}`);
      assert.equal(start.code, 0, start.stderr);
      const complete = await cli('stage', 'complete', 'r1', stage, '--outputs', `model=${plan}`, '--wall-ms', '12', '--json');
      assert.equal(complete.code, 0, complete.stderr);
      if (stage === stages[stages.length - 1]) assert.deepEqual((JSON.parse(complete.stdout) as { recorded: string[] }).recorded, ['StageCompleted', 'RunCompleted']);
    }
    const after = await cli('stage', 'start', 'r1', stages[0]!);
    assert.equal(after.code, 2);
    assert.match(after.stderr, /run r1 has already completed/);
  });

  it('lets exactly one of three concurrent processes start the same stage', async () => {
    assert.equal((await cli('plan', 'approve', plan, '--run', 'race')).code, 0);
    const results = await Promise.all([1, 2, 3].map(() => cli('stage', 'start', 'race', stages[0]!)));
    assert.deepEqual(results.map((r) => r.code).sort(), [0, 2, 2], results.map((r) => r.stderr).join('\n'));
    for (const r of results.filter((x) => x.code === 2)) assert.match(r.stderr, /already running/);
  });

  it('fails a run explicitly and refuses stages after it', async () => {
    assert.equal((await cli('plan', 'approve', plan, '--run', 'crashed')).code, 0);
    const failed = await cli('run', 'fail', 'crashed', '--reason', 'executor lost its machine', '--json');
    assert.equal(failed.code, 0, failed.stderr);
    const after = await cli('stage', 'start', 'crashed', stages[0]!);
    assert.equal(after.code, 2);
    assert.match(after.stderr, /run crashed has already failed/);
  });

  it('asks for a checkpoint before replay can prove inclusion', async () => {
    const res = await cli('replay', 'r1', '--json');
    assert.equal(res.code, 1);
    assert.match(res.stdout, /run `runledger checkpoint` first/);
  });

  it('replays to byte-identical manifests, exports, and verifies the bundle with no store', async () => {
    assert.equal((await cli('checkpoint')).code, 0);
    const m1 = join(home, 'm1.json');
    const m2 = join(home, 'm2.json');
    const first = await cli('replay', 'r1', '--out', m1);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.equal((await cli('replay', 'r1', '--out', m2, '--full')).code, 0);
    assert.ok(readFileSync(m1).equals(readFileSync(m2)), 'manifests differ');

    const bundle = join(home, 'r1.bundle');
    const exported = await cli('export', 'r1', '--out', bundle);
    assert.equal(exported.code, 0, exported.stderr);
    const key = (await cli('keys', 'show')).stdout.trim();

    const empty = mkdtempSync(join(tmpdir(), 'runledger-empty-'));
    const noStore = { RUNLEDGER_HOME: undefined, RUNLEDGER_STORE: undefined };
    const verified = await runCli(['verify-bundle', bundle, '--key', key, '--json'], { cwd: empty, env: noStore });
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.equal((JSON.parse(verified.stdout) as { ok: boolean }).ok, true);

    const noKey = await runCli(['verify-bundle', bundle], { cwd: empty, env: noStore });
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /no verifier key: pass --key/);

    const tampered = join(empty, 'tampered.bundle');
    const bytes = readFileSync(bundle);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(tampered, bytes);
    const bad = await runCli(['verify-bundle', tampered, '--key', key], { cwd: empty, env: noStore });
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /failed verification at the first divergence/);
    assert.match(bad.stdout, /section: {2}\w+/);

    writeFileSync(join(empty, 'junk'), 'not a bundle');
    const junk = await runCli(['verify-bundle', 'junk', '--key', key], { cwd: empty, env: noStore });
    assert.equal(junk.code, 2);
    assert.match(junk.stderr, /not a runledger bundle/);
  });
});
