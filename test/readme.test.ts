// Every command in the README's `sh` blocks runs, in order, in one shell, as a user would paste them.
// A line that ends in `|| echo "exit code $?"` must say which code it expects (`# exit code N`),
// and the test holds it to that code: a command that is not found (127) or fails differently
// fails the test instead of being swallowed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './support/cli.js';
import { kafkaBroker, uniqueTopic } from './support/kafka.js';
import { codeBlocks, type CodeBlock } from './support/markdown.js';

/** The README's ```sh blocks (```console blocks are illustrations: npm ci, npm test, benchmarks). */
export function shellBlocks(markdown: string): string[] {
  return codeBlocks(markdown)
    .filter((b) => b.lang === 'sh')
    .map((b) => b.text);
}

const EXPECT = /^(?<command>.*?)\s*\|\|\s*echo "exit code \$\?"(?<rest>.*)$/;

/**
 * One README block as the shell runs it: each `CMD || echo "exit code $?"   # exit code N` line
 * becomes a check that CMD ends with exactly N. Throws on such a line that names no code.
 */
export function checkedScript(block: CodeBlock, file = 'README.md'): string {
  return block.text
    .split('\n')
    .map((text, i) => {
      const m = EXPECT.exec(text);
      if (!m) return text;
      const where = `${file} line ${block.line + i}`;
      const expected = /#\s*exit code (\d+)\b/.exec(m.groups!.rest!)?.[1];
      if (expected === undefined) throw new Error(`${where}: "|| echo \\"exit code $?\\"" without a "# exit code N" comment saying which code is expected`);
      return `__rc=0; ${m.groups!.command} || __rc=$?; __expect_exit ${expected} "$__rc" '${where}'`;
    })
    .join('\n');
}

const PRELUDE = `set -euo pipefail
__expect_exit() {
  echo "exit code $2"
  if [ "$2" != "$1" ]; then echo "$3: expected exit code $1, got $2" >&2; exit 1; fi
}`;

/** Lines whose command word is a bare `runledger` (not on PATH after npm ci: it must be `npx runledger`). */
export function bareRunledger(block: CodeBlock): number[] {
  return block.text.split('\n').flatMap((text, i) => {
    const code = text.replace(/\s#.*$/, '');
    // A command word: at the start, or after ; & | ( $( and shell keywords.
    return /(^|[;&|(]|\$\(|\b(?:then|do|else)\s)\s*runledger\b/.test(code) ? [block.line + i] : [];
  });
}

/** Blocks that start a Kafka broker with infra/kafka/start.sh: run against the test broker instead. */
function usesKafka(block: CodeBlock): boolean {
  return block.text.includes('infra/kafka/start.sh');
}

describe('README', function () {
  this.timeout(600_000);
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const blocks = codeBlocks(readme);

  it('has shell blocks to run', () => {
    assert.ok(shellBlocks(readme).length >= 2);
  });

  it('never tells a user to type a bare "runledger" (after npm ci it is "npx runledger")', () => {
    const bare = blocks.flatMap((b) => bareRunledger(b));
    assert.deepEqual(bare, [], `README lines ${bare.join(', ')} start a command with "runledger"`);
  });

  it('makes every "|| echo exit code" line name the code it expects', () => {
    for (const block of blocks.filter((b) => b.lang === 'sh')) checkedScript(block);
    assert.throws(() => checkedScript({ lang: 'sh', line: 7, text: 'npx runledger nope || echo "exit code $?"' }), /README\.md line 7: .*without a "# exit code N"/);
  });

  it('holds "|| echo exit code" lines to their code: a missing command or another code fails', () => {
    const run = (text: string) => spawnSync('bash', ['-c', [PRELUDE, checkedScript({ lang: 'sh', line: 1, text })].join('\n')], { encoding: 'utf8' });
    assert.equal(run('(exit 2) || echo "exit code $?"   # exit code 2').status, 0);
    const notFound = run('runledger-not-installed --help || echo "exit code $?"   # exit code 2: refused');
    assert.notEqual(notFound.status, 0);
    assert.match(notFound.stderr, /README\.md line 1: expected exit code 2, got 127/);
    assert.notEqual(run('true || echo "exit code $?"   # exit code 2').status, 0, 'a command that unexpectedly succeeds fails too');
  });

  it('runs every sh block in order with the exit codes it states', async () => {
    const kafka = blocks.some(usesKafka) ? await kafkaBroker() : undefined;
    const parts = blocks
      .filter((b) => b.lang === 'sh')
      .flatMap((b) => {
        if (!usesKafka(b)) return [checkedScript(b)];
        if (!kafka || 'skip' in kafka) {
          console.log(`      README line ${b.line}: Kafka block not run: ${kafka && 'skip' in kafka ? kafka.skip : 'no broker'}`);
          return [];
        }
        // The broker the suites share stands in for the one the block starts; a topic of its own.
        const text = b.text
          .replace(/^export "\$\(infra\/kafka\/start\.sh\)".*$/m, `export KAFKA_BROKERS=${kafka.list}`)
          .replace(/^infra\/kafka\/start\.sh stop.*$/m, '')
          .replaceAll('runledger.events', uniqueTopic('readme'));
        assert.doesNotMatch(text, /infra\/kafka\/start\.sh/, `README line ${b.line}: the Kafka block starts or stops the broker in a way this test does not recognise`);
        return [checkedScript({ ...b, text })];
      });
    const env = { ...process.env };
    delete env.RUNLEDGER_STORE;
    delete env.RUNLEDGER_HOME;
    delete env.KAFKA_BROKERS;
    const res = spawnSync('bash', ['-c', [PRELUDE, ...parts].join('\n')], { cwd: repoRoot, env, encoding: 'utf8', timeout: 580_000 });
    assert.equal(res.status, 0, `README script failed:\n${res.stdout.slice(-3000)}\n${res.stderr.slice(-3000)}`);
    assert.match(res.stdout, /"ok": true/, 'verify reported ok');
    assert.match(res.stdout, /exit code 2/, 'bad input exits 2');
    assert.match(res.stdout, /"ok": false/, 'an error with --json is a JSON document on stdout');
    assert.match(res.stderr, /stdin line 1/, 'bad input names the line');
    if (kafka && !('skip' in kafka)) assert.match(res.stdout, /Ingested from readme-.*: \d+ appended/, 'the Kafka block mirrored the ledger');
  });
});
