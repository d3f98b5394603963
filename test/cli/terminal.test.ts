// What a person at a terminal sees, and what a pipe gets: progress bars and colour only on a TTY
// (a real pseudo-terminal through script(1)), plain text in pipes, NO_COLOR and FORCE_COLOR,
// singular nouns, a closed pipe, JSON errors and groups given no subcommand.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { cliPath, freshHome, repoRoot, runCli } from '../support/cli.js';
import { colourEnabled, count, makeStyle } from '../../src/cli/style.js';

const ESC = '\u001b[';
const hasScript = existsSync('/usr/bin/script') || spawnSync('bash', ['-c', 'command -v script']).status === 0;

/** Runs the CLI on a pseudo-terminal (stdin, stdout and stderr all a TTY) and returns what it drew. */
function onTerminal(args: string[], env: Record<string, string | undefined>): { code: number; screen: string } {
  const command = [process.execPath, cliPath, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const res = spawnSync('script', ['-qec', command, '/dev/null'], { cwd: repoRoot, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  return { code: res.status ?? -1, screen: res.stdout };
}

/** The environment of a person at a terminal: no CI, no colour preferences. */
function terminalEnv(home: string): Record<string, string | undefined> {
  return { RUNLEDGER_HOME: home, RUNLEDGER_STORE: undefined, CI: undefined, NO_COLOR: undefined, FORCE_COLOR: undefined, TERM: 'xterm-256color' };
}

describe('terminal output', function () {
  this.timeout(180_000);
  let home: string;

  before(async () => {
    home = freshHome('runledger-terminal-');
    const env = terminalEnv(home);
    assert.equal((await runCli(['init'], { env })).code, 0);
    const events = Array.from({ length: 30_000 }, (_, i) => JSON.stringify({ stream: `s-${i % 40}`, type: 'custom.sample', data: { i, pad: 'x'.repeat(40) } })).join('\n');
    assert.equal((await runCli(['append', '-'], { env, input: events })).code, 0);
    assert.equal((await runCli(['checkpoint'], { env })).code, 0);
  });
  after(() => rmSync(home, { recursive: true, force: true }));

  describe('style decisions', () => {
    it('colours a TTY only, unless NO_COLOR or FORCE_COLOR say otherwise', () => {
      assert.equal(colourEnabled({ isTTY: true }, {}), true);
      assert.equal(colourEnabled({ isTTY: false }, {}), false);
      assert.equal(colourEnabled({}, {}), false);
      assert.equal(colourEnabled({ isTTY: true }, { TERM: 'dumb' }), false);
      assert.equal(colourEnabled({ isTTY: true }, { NO_COLOR: '1' }), false);
      assert.equal(colourEnabled({ isTTY: true }, { NO_COLOR: '' }), true, 'an empty NO_COLOR is unset (no-color.org)');
      assert.equal(colourEnabled({ isTTY: false }, { FORCE_COLOR: '1' }), true);
      assert.equal(colourEnabled({ isTTY: true }, { FORCE_COLOR: '0' }), false);
      assert.equal(colourEnabled({ isTTY: true }, { FORCE_COLOR: 'false' }), false);
      assert.equal(colourEnabled({ isTTY: true }, { FORCE_COLOR: '1', NO_COLOR: '1' }), true, 'FORCE_COLOR wins, as in Node');
    });

    it('marks status words with a symbol and colour only when enabled', () => {
      assert.equal(makeStyle(false).status('ok', 'OK'), 'OK');
      assert.equal(makeStyle(false).symbol('fail'), '');
      assert.equal(makeStyle(true).status('ok', 'OK'), `${ESC}32m✔ OK${ESC}0m`);
      assert.equal(makeStyle(true).status('fail', 'FAILED'), `${ESC}31m✖ FAILED${ESC}0m`);
    });

    it('counts with singular and plural nouns', () => {
      assert.equal(count(1, 'event'), '1 event');
      assert.equal(count(0, 'event'), '0 events');
      assert.equal(count(2, 'soft breach', 'soft breaches'), '2 soft breaches');
    });
  });

  describe('on a pseudo-terminal', function () {
    before(function () {
      if (!hasScript) {
        console.log('      skipping pseudo-terminal tests: script(1) from util-linux is not installed');
        this.skip();
      }
    });

    it('draws a progress bar whose every token is filled in (no literal {eta_value})', () => {
      const { code, screen } = onTerminal(['verify', '--workers', '1'], terminalEnv(home));
      assert.equal(code, 0, screen);
      assert.match(screen, /verify \[[█░]+\] \d+\/30000 \d+% eta \S+/, 'the bar was drawn');
      assert.doesNotMatch(screen, /\{\w+\}/, 'no unfilled cli-progress token');
      assert.doesNotMatch(screen, /eta_value/);
    });

    it('colours and marks the status on a TTY', () => {
      const { code, screen } = onTerminal(['verify', '--workers', '1'], terminalEnv(home));
      assert.equal(code, 0, screen);
      assert.ok(screen.includes(`${ESC}32m✔ OK, anchored${ESC}0m: 30000 events in 40 streams, every one inside signed checkpoint 1 (size 30000); 1 checkpoint verified`), screen.slice(-400));
    });

    it('respects NO_COLOR on a TTY', () => {
      const { screen } = onTerminal(['verify', '--workers', '1'], { ...terminalEnv(home), NO_COLOR: '1' });
      assert.match(screen, /OK, anchored: 30000 events in 40 streams, every one inside signed checkpoint 1 \(size 30000\); 1 checkpoint verified/);
      assert.ok(!screen.includes(`${ESC}32m`) && !screen.includes('✔'), 'no colour, no symbol');
    });
  });

  describe('in a pipe', () => {
    it('prints plain text: no progress bar, no escapes, no symbols', async () => {
      const res = await runCli(['verify', '--workers', '1'], { env: terminalEnv(home) });
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stdout.split('\n')[0], `OK, anchored: 30000 events in 40 streams, every one inside signed checkpoint 1 (size 30000); 1 checkpoint verified; root ${res.stdout.match(/root ([0-9a-f]{64})/)![1]}`);
      assert.equal(res.stderr, '', 'no progress bar in a pipe');
      assert.ok(!res.stdout.includes(ESC) && !res.stdout.includes('✔'));
    });

    it('colours a pipe when FORCE_COLOR asks for it', async () => {
      const res = await runCli(['verify', '--workers', '1'], { env: { ...terminalEnv(home), FORCE_COLOR: '1' } });
      assert.ok(res.stdout.startsWith(`${ESC}32m✔ OK, anchored${ESC}0m`), res.stdout);
    });

    it('ends quietly with exit 0 when the reader closes the pipe (events --json | head -1)', () => {
      const res = spawnSync('bash', ['-c', `set -o pipefail; '${process.execPath}' '${cliPath}' events --json | head -1`], {
        cwd: repoRoot,
        env: { ...process.env, ...terminalEnv(home) },
        encoding: 'utf8',
      });
      assert.equal(res.stdout, '{\n');
      assert.equal(res.stderr, '', 'no EPIPE stack trace');
      assert.equal(res.status, 0, 'pipefail: the runledger side of the pipe exited 0 too');
    });
  });

  it('says "1 event" and "1 stream" and "1 checkpoint"', async () => {
    const one = freshHome('runledger-terminal-one-');
    const env = terminalEnv(one);
    try {
      await runCli(['init'], { env });
      const appended = await runCli(['append', '-'], { env, input: '{"stream":"s","type":"custom.sample","data":{}}\n' });
      assert.match(appended.stdout, /^Appended 1 event to 1 stream \(positions 0\.\.0\)$/m);
      const signed = await runCli(['checkpoint'], { env });
      assert.match(signed.stdout, /^Signed checkpoint of 1 event, root /m);
      const verified = await runCli(['verify'], { env });
      assert.match(verified.stdout, /^OK, anchored: 1 event in 1 stream, every one inside signed checkpoint 1 \(size 1\); 1 checkpoint verified; /m);
      await runCli(['append', '-'], { env, input: '{"stream":"s","type":"custom.sample","data":{}}\n' });
      const unanchored = await runCli(['verify'], { env });
      assert.match(unanchored.stdout, /^OK but NOT ANCHORED: 2 events in 1 stream /m);
    } finally {
      rmSync(one, { recursive: true, force: true });
    }
  });
});

describe('errors with --json', function () {
  this.timeout(60_000);

  it('prints one JSON document on stdout naming the message, exit code and where', async () => {
    const home = freshHome('runledger-json-errors-');
    const env = { RUNLEDGER_HOME: home, RUNLEDGER_STORE: undefined };
    try {
      const missing = await runCli(['events', '--json'], { env });
      assert.equal(missing.code, 3);
      const doc = JSON.parse(missing.stdout) as { ok: boolean; error: { message: string; exitCode: number; type: string } };
      assert.equal(doc.ok, false);
      assert.equal(doc.error.exitCode, 3);
      assert.equal(doc.error.type, 'UnavailableError');
      assert.match(doc.error.message, /no ledger at .*ledger\.db: run "runledger init" first/);
      assert.match(missing.stderr, /^runledger: no ledger at /, 'the sentence still goes to stderr');

      assert.equal((await runCli(['init'], { env })).code, 0);
      const bad = await runCli(['append', '-', '--json'], { env, input: '{"stream":"s","type":"custom.x","data":{}}\n{"stream":"s","type":' });
      assert.equal(bad.code, 2);
      const located = JSON.parse(bad.stdout) as { error: { exitCode: number; type: string; line?: number; file?: string } };
      assert.equal(located.error.exitCode, 2);
      assert.equal(located.error.type, 'InputError');
      assert.equal(located.error.line, 2);

      const usage = await runCli(['events', '--json', '--limit', 'many'], { env });
      assert.equal(usage.code, 2);
      assert.equal((JSON.parse(usage.stdout) as { error: { field?: string } }).error.field, '--limit');

      const unknown = await runCli(['verify', '--json', '--no-such-flag'], { env });
      assert.equal(unknown.code, 2);
      assert.equal((JSON.parse(unknown.stdout) as { error: { type: string; exitCode: number } }).error.type, 'UsageError');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('prints nothing on stdout without --json', async () => {
    const res = await runCli(['events'], { env: { RUNLEDGER_HOME: freshHome('runledger-json-errors-'), RUNLEDGER_STORE: undefined } });
    assert.equal(res.code, 3);
    assert.equal(res.stdout, '');
  });
});

describe('command groups without a subcommand', function () {
  this.timeout(60_000);

  it('exit 2 with one line naming the subcommands', async () => {
    for (const [group, subs] of [
      ['keys', 'show, rotate, history'],
      ['proof', 'inclusion, consistency'],
      ['stage', 'start, complete, fail'],
      ['project', 'rebuild, summary, link, graph'],
    ] as const) {
      const res = await runCli([group]);
      assert.equal(res.code, 2, `${group}: ${res.stderr}`);
      assert.equal(res.stdout, '');
      assert.equal(res.stderr, `runledger: ${group} needs a subcommand: ${subs} (see "runledger help ${group}")\n`);
    }
    const unknown = await runCli(['proof', 'inclusoin']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown subcommand "proof inclusoin": use one of inclusion, consistency/);
  });

  it('still runs the subcommand given', async () => {
    const res = await runCli(['keys', 'show'], { env: { RUNLEDGER_HOME: freshHome('runledger-keys-'), RUNLEDGER_STORE: undefined } });
    assert.notEqual(res.stderr, '', 'no key in a fresh home');
    assert.doesNotMatch(res.stderr, /needs a subcommand/);
  });
});
