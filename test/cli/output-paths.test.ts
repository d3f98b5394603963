// Every command that takes an output path checks it before doing any work: a directory, a missing
// parent directory or an unwritable location is exit 2 with one sentence, nothing is appended and
// no file appears. Each case is paired with the same command and a good path, which does write
// (and, for gate, does append), so the refusal is what kept the ledger unchanged.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openOutput } from '../../src/cli/output-path.js';
import { InputError } from '../../src/errors.js';
import { defaultStoreUrl, openStore } from '../../src/store/open.js';
import { campaignStreamEvents, metrics, runStreamEvents } from '../../bench/fixtures/projection-log.js';
import { freshHome, repoRoot, runCli } from '../support/cli.js';
import { spawn } from 'node:child_process';

/** A directory this process cannot create files in: a 0500 directory, or /sys for root (which ignores modes). */
function unwritableDir(home: string): string {
  if (process.getuid?.() === 0) return '/sys';
  const dir = join(home, 'readonly');
  mkdirSync(dir);
  chmodSync(dir, 0o500);
  return dir;
}

async function eventCount(home: string): Promise<number> {
  const store = await openStore(defaultStoreUrl(home));
  try {
    return (await store.readAll({ after: -1 })).length;
  } finally {
    await store.close();
  }
}

describe('output paths are checked before anything is written', function () {
  this.timeout(120_000);
  let home: string;
  let env: Record<string, string>;
  let bad: [string, string, RegExp][];

  before(async function () {
    home = freshHome();
    env = { RUNLEDGER_HOME: home };
    assert.equal((await runCli(['init'], { env })).code, 0);
    const store = await openStore(defaultStoreUrl(home));
    try {
      const streams: Record<string, ReturnType<typeof runStreamEvents>> = {};
      for (const [name, accuracy] of [['base', 0.9], ['cand', 0.8]] as const) {
        const ids = [`${name}-1`, `${name}-2`];
        ids.forEach((runId, i) => (streams[`run-${runId}`] = runStreamEvents({ runId, seed: i + 1, metrics: metrics(accuracy + i / 100, 0.3) })));
        streams[`campaign-${name}`] = campaignStreamEvents(name, ids);
      }
      await store.appendBatch(Object.entries(streams).map(([stream, events]) => ({ stream, events })));
    } finally {
      await store.close();
    }
    bad = [
      ['an existing directory', home, /is a directory, expected a file path; nothing was written$/],
      ['a missing parent directory', join(home, 'no-such-dir', 'report'), /directory .*no-such-dir does not exist; nothing was written$/],
      ['an unwritable location', join(unwritableDir(home), 'report'), /cannot create files in .* \(permission denied\); nothing was written$/],
    ];
  });

  const commands: [string, (file: string) => string[]][] = [
    ['gate --junit', (file) => ['gate', '--baseline', 'base', '--candidate', 'cand', '--junit', file]],
    ['gate --markdown', (file) => ['gate', '--baseline', 'base', '--candidate', 'cand', '--markdown', file]],
    ['replay --out', (file) => ['replay', 'base-1', '--out', file]],
    ['export --out', (file) => ['export', 'base-1', '--out', file]],
  ];

  for (const [name, args] of commands) {
    it(`${name}: refuses a directory, a missing parent and an unwritable location with exit 2, appending nothing`, async function () {
      const before = await eventCount(home);
      const files = readdirSync(home).sort();
      for (const [what, file, message] of bad) {
        const result = await runCli(args(file), { env });
        assert.equal(result.code, 2, `${what}: ${result.stderr}`);
        const lines = result.stderr.trim().split('\n');
        assert.equal(lines.length, 1, `${what}: one sentence: ${result.stderr}`);
        assert.match(lines[0]!, new RegExp(`^runledger: ${name.split(' ')[1]} `), what);
        assert.match(lines[0]!, message, what);
        assert.equal(await eventCount(home), before, `${what}: nothing appended`);
        assert.deepEqual(readdirSync(home).sort(), files, `${what}: no file left behind`);
      }
    });
  }

  it('gate with good report paths appends its decision and writes both reports (the refusals above are what kept the ledger unchanged)', async function () {
    const before = await eventCount(home);
    const junit = join(home, 'out.xml');
    const markdown = join(home, 'out.md');
    const result = await runCli(['gate', '--baseline', 'base', '--candidate', 'cand', '--junit', junit, '--markdown', markdown], { env });
    assert.equal(result.code, 1, result.stderr); // the candidate regressed
    assert.ok((await eventCount(home)) > before, 'the gate recorded its decision');
    assert.match(readFileSync(junit, 'utf8'), /<testsuites/);
    assert.match(readFileSync(markdown, 'utf8'), /testAccuracy/);
    assert.deepEqual(readdirSync(home).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');
  });

  it('demo --dir: refuses a file, a missing parent and an unwritable location with exit 2, creating nothing', async function () {
    const file = join(home, 'not-a-dir');
    writeFileSync(file, 'x');
    for (const [dir, message] of [
      [file, /--dir .*not-a-dir: exists and is not a directory; nothing was written$/],
      [join(home, 'missing', 'demo'), /--dir .*: directory .*missing does not exist; nothing was written$/],
      [join(unwritableDir(freshHome()), 'demo'), /--dir .*: cannot be created \(permission denied\)|cannot create files in/],
    ] as const) {
      const result = await runCli(['demo', '--dir', dir, '--repeats', '1'], { env: {} });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr.trim(), message);
      assert.equal(result.stderr.trim().split('\n').length, 1);
    }
    assert.equal(existsSync(join(home, 'missing')), false);
  });

  it('bench --out: refuses a directory before benchmarking anything', async function () {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(repoRoot, 'dist', 'bench', 'run.js'), 'merkle', '--out', home], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^bench: --out .*: is a directory, expected a file path; nothing was written\n$/);
  });
});

describe('openOutput', () => {
  it('replaces a symlink at the target instead of writing through it, and leaves no temporary file', () => {
    const dir = freshHome();
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'keep me');
    symlinkSync(victim, join(dir, 'report'));
    const out = openOutput(join(dir, 'report'), '--out');
    out.write('report');
    out.discard();
    assert.equal(readFileSync(victim, 'utf8'), 'keep me');
    assert.equal(readFileSync(join(dir, 'report'), 'utf8'), 'report');
    assert.deepEqual(readdirSync(dir).sort(), ['report', 'victim']);
  });

  it('removes its temporary file when the command fails before writing, and refuses an empty path', () => {
    const dir = freshHome();
    openOutput(join(dir, 'never'), '--out').discard();
    assert.deepEqual(readdirSync(dir), []);
    assert.throws(() => openOutput('', '--junit'), (err: unknown) => err instanceof InputError && /--junit "": is empty/.test(err.message));
  });
});
