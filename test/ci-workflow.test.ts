// The GitHub Actions workflow in docs/ci.md, run locally: its `run:` steps in order, as the runner
// runs them (bash -eo pipefail, GITHUB_ENV carried to later steps, GITHUB_STEP_SUMMARY and
// RUNNER_TEMP files, `if: always()` steps after a failure), with the `${{ … }}` values a run would
// have. `uses:` steps are GitHub's (checkout, Node, caches, artifacts): the cache is emulated by
// keeping only what it saves (.runledger/ledger.db*) between runs. `npm ci` is never run here: it
// would reinstall the checkout's node_modules under every other process using them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { freshHome, repoRoot, runCli } from './support/cli.js';
import { codeBlocks } from './support/markdown.js';
import { startPostgres, type PostgresDatabase } from '../infra/services/postgres.js';

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  env?: Record<string, string>;
}

interface Job {
  env?: Record<string, string | number>;
  steps: Step[];
}

interface Workflow {
  on: Record<string, unknown>;
  jobs: Record<string, Job>;
}

interface StepResult {
  name: string;
  code: number | null;
  output: string;
}

interface JobRun {
  ok: boolean;
  steps: StepResult[];
  summary: string;
  output: string;
}

function workflowFromDocs(): Workflow {
  const blocks = codeBlocks(readFileSync(join(repoRoot, 'docs', 'ci.md'), 'utf8')).filter((b) => b.lang === 'yaml' && /^jobs:/m.test(b.text) && /^on:/m.test(b.text));
  assert.equal(blocks.length, 1, 'docs/ci.md has one complete workflow (a yaml block with on: and jobs:)');
  return parse(blocks[0]!.text) as Workflow;
}

/**
 * Runs one job. `expressions` gives each job env value that is a `${{ … }}` expression (every one
 * must be given: a new expression in the docs fails here until the test says what it is); `set`
 * overrides literal values; `standIns` replaces a step that cannot run here, by name, with a reason.
 */
function runJob(
  job: Job,
  options: { expressions: Record<string, string>; set?: Record<string, string>; github: Record<string, string>; standIns?: Record<string, string> },
): JobRun {
  const runnerTemp = mkdtempSync(join(tmpdir(), 'runledger-ci-temp-'));
  const summaryFile = join(runnerTemp, 'step-summary.md');
  writeFileSync(summaryFile, '');
  const env: Record<string, string | undefined> = { ...process.env, CI: 'true', GITHUB_ACTIONS: 'true', GITHUB_WORKSPACE: repoRoot, RUNNER_TEMP: runnerTemp, GITHUB_STEP_SUMMARY: summaryFile, ...options.github };
  for (const name of ['RUNLEDGER_STORE', 'RUNLEDGER_HOME', 'KAFKA_BROKERS', 'NO_COLOR', 'FORCE_COLOR']) delete env[name];
  for (const [key, value] of Object.entries(job.env ?? {})) {
    const text = String(value);
    if (text.includes('${{')) {
      assert.ok(key in options.expressions, `job env ${key}: ${text} has no value in the test`);
      env[key] = options.expressions[key];
    } else env[key] = text;
  }
  Object.assign(env, options.set ?? {});
  const steps: StepResult[] = [];
  let failed = false;
  for (const step of job.steps) {
    const name = step.name ?? step.uses ?? '(unnamed)';
    if (step.uses) continue;
    assert.ok(step.run, `step "${name}" has neither uses nor run`);
    assert.ok(step.if === undefined || step.if === 'always()', `run step "${name}" has "if: ${step.if}": keep conditions in its shell so this test runs what GitHub runs`);
    if (failed && step.if !== 'always()') continue;
    const script = options.standIns?.[name] ?? INSTALL_STAND_INS[name] ?? step.run!;
    assert.doesNotMatch(script, /\bnpm (ci|install|i)\b/, `step "${name}" installs packages: give it a stand-in (the test runs on the installed tree)`);
    const envFile = join(runnerTemp, `env-${steps.length}`);
    writeFileSync(envFile, '');
    const res = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
      cwd: repoRoot,
      env: { ...env, ...step.env, GITHUB_ENV: envFile },
      encoding: 'utf8',
      timeout: 300_000,
    });
    steps.push({ name, code: res.status, output: `${res.stdout}${res.stderr}` });
    if (res.status !== 0) failed = true;
    // GITHUB_ENV: NAME=value lines become environment of the steps that follow.
    for (const line of readFileSync(envFile, 'utf8').split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
    }
  }
  const summary = readFileSync(summaryFile, 'utf8');
  rmSync(runnerTemp, { recursive: true, force: true });
  return { ok: !failed, steps, summary, output: steps.map((s) => `--- ${s.name} (exit ${s.code})\n${s.output}`).join('\n') };
}

/** The install steps, run on GitHub, not here: the test runs on the tree `npm test` built. */
const INSTALL_STAND_INS: Record<string, string> = { Install: 'echo "install step not run by this test: it uses the installed tree"' };

/** What actions/cache keeps of the home between jobs: the ledger files and the signer state, never the key. */
function keepCachedOnly(home: string): void {
  for (const entry of readdirSync(home)) {
    if (entry === 'keys') {
      for (const key of readdirSync(join(home, 'keys'))) if (key !== 'signing.state') rmSync(join(home, 'keys', key), { recursive: true, force: true });
    } else if (!entry.startsWith('ledger.db')) rmSync(join(home, entry), { recursive: true, force: true });
  }
}

const step = (run: JobRun, name: string): StepResult | undefined => run.steps.find((s) => s.name === name);

describe('docs/ci.md GitHub Actions workflow', function () {
  this.timeout(900_000);
  const workflow = workflowFromDocs();
  let signingKey: string;

  before(async () => {
    // The RUNLEDGER_SIGNING_KEY secret: a key made once with `runledger init`, as the docs say.
    const keyHome = freshHome('runledger-ci-key-');
    assert.equal((await runCli(['init'], { env: { RUNLEDGER_HOME: keyHome, RUNLEDGER_STORE: undefined } })).code, 0);
    signingKey = readFileSync(join(keyHome, 'keys', 'signing.key'), 'utf8').trim();
    rmSync(keyHome, { recursive: true, force: true });
  });

  it('runs on pushes to main and on pull requests, with a model job and a bench job', () => {
    assert.deepEqual(Object.keys(workflow.on).sort(), ['pull_request', 'push']);
    assert.deepEqual(Object.keys(workflow.jobs), ['model', 'bench']);
    const uses = workflow.jobs.model!.steps.map((s) => s.uses).filter(Boolean);
    assert.ok(uses.some((u) => u!.startsWith('actions/cache/restore@')) && uses.some((u) => u!.startsWith('actions/cache/save@')), 'the embedded ledger is cached');
    assert.ok(workflow.jobs.model!.steps.some((s) => s.run?.includes('--junit') && s.run.includes('--markdown') && s.run.includes('--github')));
  });

  describe('with the embedded ledger in the Actions cache', () => {
    let home: string;
    const expressions = (overrides: Record<string, string> = {}) => ({
      RUNLEDGER_STORE: '',
      PGPASSWORD: '',
      RUNLEDGER_SIGNING_KEY: signingKey,
      RUNLEDGER_HOME: home,
      CANDIDATE: `ci-${Math.floor(Math.random() * 1e9)}-1`,
      ...overrides,
    });
    // Two repeats instead of five, for time: the policy's thresholds still decide below minRepeats.
    const set = { REPEATS: '2' };
    before(() => (home = freshHome('runledger-ci-home-')));
    after(() => rmSync(home, { recursive: true, force: true }));

    it('a first push to main adopts the empty head, trains, signs, has nothing to gate against and promotes its campaign', () => {
      const exp = expressions({ CANDIDATE: 'ci-100-1' });
      const run = runJob(workflow.jobs.model!, { expressions: exp, set, github: { GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/heads/main', GITHUB_SHA: 'a'.repeat(40) } });
      assert.ok(run.ok, run.output);
      assert.match(step(run, 'Open the ledger')!.output, /Adopted the store's latest checkpoint/);
      assert.match(step(run, 'Sign and verify')!.output, /OK, anchored/);
      assert.match(step(run, 'Gate')!.output, /^::warning title=runledger gate::no baseline campaign yet/m);
      assert.match(step(run, 'Promote the candidate to baseline')!.output, /Appended 1 event to 1 stream/);
      assert.match(run.summary, /^ci-100-1-2\s+completed\s+iris-mlp\s+acc \S+ loss \S+\s+verified/m, run.summary);
    });

    it('a regressed pull request fails at the gate with ::error annotations, a JUnit report and the job summary', () => {
      keepCachedOnly(home);
      const exp = expressions({ CANDIDATE: 'ci-101-1' });
      const run = runJob(workflow.jobs.model!, {
        expressions: exp,
        set: { ...set, PLAN: 'docs/examples/train-regressed.yaml' },
        github: { GITHUB_EVENT_NAME: 'pull_request', GITHUB_REF: 'refs/pull/7/merge', GITHUB_SHA: 'b'.repeat(40) },
      });
      assert.equal(run.ok, false, run.output);
      const gate = step(run, 'Gate')!;
      assert.equal(gate.code, 1, run.output);
      assert.match(gate.output, /^::error title=runledger gate%3A testAccuracy \(hard\)::worse by /m);
      assert.match(step(run, 'Find the baseline')!.output, /baseline campaign: ci-100-1/);
      assert.ok(step(run, 'Job summary'), 'the summary step runs after the failure (if: always())');
      assert.match(run.summary, /testAccuracy/);
      assert.match(run.summary, /^ci-101-1-1\s+completed\s+iris-mlp-regressed/m);
      assert.equal(step(run, 'Promote the candidate to baseline'), undefined, 'a failed job promotes nothing');
    });

    it('stops, without signing, when the cached signer state is gone but the ledger has checkpoints', () => {
      keepCachedOnly(home);
      rmSync(join(home, 'keys', 'signing.state'));
      const run = runJob(workflow.jobs.model!, { expressions: expressions({ CANDIDATE: 'ci-102-1' }), set, github: { GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/heads/main', GITHUB_SHA: 'c'.repeat(40) } });
      assert.equal(step(run, 'Open the ledger')!.code, 1, run.output);
      assert.match(step(run, 'Open the ledger')!.output, /::error title=runledger::the signer state keys\/signing\.state is missing \(cache evicted\?\) but the ledger has \d+ checkpoints/);
      assert.equal(step(run, 'Train the candidate'), undefined);
    });

    it('a fork without secrets starts a fresh ledger and skips the gate with a warning', () => {
      keepCachedOnly(home);
      const run = runJob(workflow.jobs.model!, { expressions: expressions({ RUNLEDGER_SIGNING_KEY: '', CANDIDATE: 'ci-103-1' }), set, github: { GITHUB_EVENT_NAME: 'pull_request', GITHUB_REF: 'refs/pull/9/merge', GITHUB_SHA: 'd'.repeat(40) } });
      assert.ok(run.ok, run.output);
      assert.match(step(run, 'Open the ledger')!.output, /::warning title=runledger::no RUNLEDGER_SIGNING_KEY secret/);
      assert.match(step(run, 'Gate')!.output, /no baseline campaign yet/);
    });

    it('refuses to build on a cached ledger someone altered', () => {
      keepCachedOnly(home);
      // A forged cache: a ledger whose checkpoints another key signed.
      rmSync(home, { recursive: true, force: true });
      const other = freshHome('runledger-ci-forged-');
      spawnSync(process.execPath, [join(repoRoot, 'bin', 'runledger.js'), '--home', other, 'init'], { encoding: 'utf8' });
      spawnSync('bash', ['-c', `echo '{"stream":"x","type":"custom.x","data":{}}' | '${process.execPath}' '${join(repoRoot, 'bin', 'runledger.js')}' --home '${other}' append - && '${process.execPath}' '${join(repoRoot, 'bin', 'runledger.js')}' --home '${other}' checkpoint`], { encoding: 'utf8' });
      home = other;
      keepCachedOnly(home);
      const run = runJob(workflow.jobs.model!, { expressions: expressions({ CANDIDATE: 'ci-104-1' }), set, github: { GITHUB_EVENT_NAME: 'pull_request', GITHUB_REF: 'refs/pull/10/merge', GITHUB_SHA: 'e'.repeat(40) } });
      assert.equal(run.ok, false);
      assert.equal(step(run, 'Open the ledger')!.code, 1, run.output);
      assert.equal(step(run, 'Train the candidate'), undefined, 'nothing is added to a ledger that does not verify');
    });
  });

  describe('with the ledger in PostgreSQL (RUNLEDGER_STORE)', () => {
    let db: PostgresDatabase | undefined;
    let home: string;
    before(async function () {
      const started = await startPostgres();
      if ('skip' in started) {
        console.log(`      skipping the PostgreSQL workflow runs: ${started.skip}`);
        this.skip();
      }
      db = started;
      home = freshHome('runledger-ci-pg-home-');
    });
    after(async () => {
      await db?.stop();
      if (home) rmSync(home, { recursive: true, force: true });
    });

    it('main promotes, a pull request as good as it passes the gate; a job without the key stops with an error', () => {
      const exp = (candidate: string, key = signingKey) => ({ RUNLEDGER_STORE: db!.url, PGPASSWORD: '', RUNLEDGER_SIGNING_KEY: key, RUNLEDGER_HOME: home, CANDIDATE: candidate });
      const main = runJob(workflow.jobs.model!, { expressions: exp('pg-1-1'), set: { REPEATS: '2' }, github: { GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/heads/main', GITHUB_SHA: 'f'.repeat(40) } });
      assert.ok(main.ok, main.output);
      assert.match(step(main, 'Sign and verify')!.output, /OK, anchored/);
      keepCachedOnly(home);
      const pr = runJob(workflow.jobs.model!, { expressions: exp('pg-2-1'), set: { REPEATS: '2' }, github: { GITHUB_EVENT_NAME: 'pull_request', GITHUB_REF: 'refs/pull/3/merge', GITHUB_SHA: '1'.repeat(40) } });
      assert.ok(pr.ok, pr.output);
      assert.match(step(pr, 'Find the baseline')!.output, /baseline campaign: pg-1-1/);
      assert.match(step(pr, 'Gate')!.output, /verdict: PASS/);
      assert.match(step(pr, 'Sign and verify')!.output, /a pull request does not sign the shared ledger[\s\S]*OK but NOT ANCHORED/);
      assert.match(step(pr, 'Promote the candidate to baseline')!.output, /not a push to main: the baseline stays pg-1-1/);
      const keyless = runJob(workflow.jobs.model!, { expressions: exp('pg-3-1', ''), set: { REPEATS: '2' }, github: { GITHUB_EVENT_NAME: 'pull_request', GITHUB_REF: 'refs/pull/4/merge', GITHUB_SHA: '2'.repeat(40) } });
      assert.equal(step(keyless, 'Open the ledger')!.code, 1);
      assert.match(step(keyless, 'Open the ledger')!.output, /::error title=runledger::RUNLEDGER_STORE is set but RUNLEDGER_SIGNING_KEY is not/);
    });
  });

  describe('the bench job', () => {
    // A full `npm run bench` takes minutes; test/bench/run.test.ts checks that --out writes only
    // the JSON document. Here the Benchmarks step's output is a stand-in, so what runs is the gate.
    const standIn = (transform: string) => `node -e 'const fs = require("fs"); const d = JSON.parse(fs.readFileSync("bench/baseline.json", "utf8")); ${transform}; fs.writeFileSync(process.env.RUNNER_TEMP + "/bench.json", JSON.stringify(d))'`;

    it('passes a run whose same-run ratios match the baseline, even on a machine twice as slow', () => {
      const run = runJob(workflow.jobs.bench!, {
        expressions: {},
        github: { GITHUB_EVENT_NAME: 'pull_request' },
        standIns: { Benchmarks: standIn('for (const r of d.results) { r.wallMs.p50 *= 2; r.throughputPerSec /= 2; }') },
      });
      assert.ok(run.ok, run.output);
      assert.match(step(run, 'Bench gate')!.output, /PASS: 0 regressions of same-run ratio beyond 15%/);
    });

    it('fails a run whose ratio regressed beyond 15% and beyond the measurement noise', () => {
      const run = runJob(workflow.jobs.bench!, {
        expressions: {},
        github: { GITHUB_EVENT_NAME: 'pull_request' },
        standIns: { Benchmarks: standIn('const a = d.results.find((r) => r.name === "append.sqlite"); a.ratio *= 0.7') },
      });
      assert.equal(run.ok, false);
      assert.equal(step(run, 'Bench gate')!.code, 1, run.output);
      assert.match(step(run, 'Bench gate')!.output, /FAIL\s+append\.sqlite\s+ratio fell 30%/);
    });

    it('keeps the Benchmarks step as the docs say: npm run bench -- --out, never a redirect', () => {
      const bench = workflow.jobs.bench!.steps.find((s) => s.name === 'Benchmarks')!;
      assert.equal(bench.run!.trim(), 'npm run bench -- --out "$RUNNER_TEMP/bench.json"');
      assert.ok(existsSync(join(repoRoot, 'bench', 'baseline.json')));
    });
  });
});
