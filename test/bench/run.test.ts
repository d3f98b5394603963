// `npm run bench -- --out FILE`: the document goes to FILE only, so npm's banner (which `npm run`
// prints on stdout) can never end up in what bench-compare reads.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseBenchFile } from '../../src/gates/bench-compare.js';
import { freshHome, repoRoot } from '../support/cli.js';

const runJs = join(repoRoot, 'dist', 'bench', 'run.js');

describe('bench/run.ts', function () {
  this.timeout(120_000);

  it('--out writes exactly one bench document to the file and nothing to stdout', () => {
    const dir = freshHome('runledger-bench-out-');
    try {
      const out = join(dir, 'new.json');
      const res = spawnSync(process.execPath, [runJs, 'merkle', '--scale', '0.001', '--runs', '1', '--out', out], { cwd: repoRoot, encoding: 'utf8' });
      assert.equal(res.status, 0, res.stderr);
      assert.equal(res.stdout, '', 'stdout stays free for whatever wraps the command (npm prints its banner there)');
      assert.match(res.stderr, /bench: wrote 2 results to .*new\.json/);
      const results = parseBenchFile(readFileSync(out, 'utf8'), out);
      assert.deepEqual(results.map((r) => r.name), ['merkle-root-vs-sha256', 'merkle-root']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an --out in a directory that does not exist before measuring anything', () => {
    const res = spawnSync(process.execPath, [runJs, 'merkle', '--out', '/nonexistent-dir/new.json'], { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(res.status, 2);
    assert.match(res.stderr, /--out \/nonexistent-dir\/new\.json: directory \/nonexistent-dir does not exist/);
    assert.doesNotMatch(res.stderr, /bench: merkle/, 'nothing was measured');
  });

  it('peers without Emmett installed: says how to install it and lists its goals as not measured, with the reason, never a figure', () => {
    const dir = freshHome('runledger-bench-peers-');
    try {
      const out = join(dir, 'peers.json');
      const res = spawnSync(process.execPath, [runJs, 'peers', '--out', out], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, EMMETT_DIR: dir } });
      assert.equal(res.status, 0, res.stderr);
      assert.match(res.stderr, /bench: peers NOT MEASURED — Emmett is not installed/);
      assert.match(res.stderr, /npm i --legacy-peer-deps @event-driven-io\/emmett@/);
      const doc = JSON.parse(readFileSync(out, 'utf8')) as { results: unknown[]; goals: { name: string; ratio: number | null; met: boolean; note?: string }[] };
      assert.deepEqual(doc.results, []);
      assert.deepEqual(doc.goals.map((g) => g.name).sort(), ['append-integrate.postgres-vs-emmett', 'append.sqlite-vs-emmett', 'verify-sqlite-vs-emmett-read']);
      for (const goal of doc.goals) {
        assert.equal(goal.ratio, null);
        assert.equal(goal.met, false);
        assert.match(goal.note!, /Emmett is not installed \(no .*package\.json/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
