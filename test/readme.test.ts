// Every command in the README's `sh` blocks runs, in order, in one shell, as a user would paste them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './support/cli.js';

/** The README's ```sh blocks (```console blocks are illustrations: npm ci, npm test, benchmarks). */
export function shellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

describe('README', function () {
  this.timeout(600_000);

  it('has shell blocks to run', () => {
    assert.ok(shellBlocks(readFileSync(join(repoRoot, 'README.md'), 'utf8')).length >= 2);
  });

  it('runs every sh block in order with exit code 0', () => {
    const script = ['set -euo pipefail', ...shellBlocks(readFileSync(join(repoRoot, 'README.md'), 'utf8'))].join('\n');
    const env = { ...process.env };
    delete env.RUNLEDGER_STORE;
    delete env.RUNLEDGER_HOME;
    const res = spawnSync('bash', ['-c', script], { cwd: repoRoot, env, encoding: 'utf8', timeout: 580_000 });
    assert.equal(res.status, 0, `README script failed:\n${res.stdout.slice(-3000)}\n${res.stderr.slice(-3000)}`);
    assert.match(res.stdout, /"ok": true/, 'verify reported ok');
    assert.match(res.stdout, /exit code 2/, 'bad input exits 2');
    assert.match(res.stderr, /stdin line 1/, 'bad input names the line');
  });
});
