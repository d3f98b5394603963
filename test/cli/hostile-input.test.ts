// Issue 17 as a user meets it: malformed input to the real CLI is exit 2 with one sentence and
// nothing written; data written into the store by other means is a verification failure naming
// the event, never an internal error; and files are private whatever the umask.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parseAppendInput } from '../../src/ledger/append-input.js';
import { decodeMessage } from '../../src/kafka/ingest.js';
import { InputError } from '../../src/errors.js';
import { LIMITS } from '../../src/input/limits.js';

import { leafHash } from '../../src/integrity/hasher.js';
import { defaultStoreUrl, openStore } from '../../src/store/open.js';
import { withDataText } from '../replay/verify-log-fixtures.js';
import { cliPath, freshHome, repoRoot, runCli } from '../support/cli.js';


/** The stderr of a refusal: exactly one line, starting "runledger: ", no stack trace, no internal error. */
function oneSentence(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${stderr}`);
  assert.match(lines[0]!, /^runledger: /);
  assert.doesNotMatch(lines[0]!, /internal error|\bat \S+ \(|Maximum call stack/);
  return lines[0]!;
}

describe('hostile input through the CLI', function () {
  this.timeout(120_000);
  let home: string;
  let env: Record<string, string>;
  const events = async (): Promise<number> => {
    const store = await openStore(defaultStoreUrl(home));
    try {
      return (await store.readAll({ after: -1 })).length;
    } finally {
      await store.close();
    }
  };

  before(async function () {
    home = freshHome();
    env = { RUNLEDGER_HOME: home };
    assert.equal((await runCli(['init'], { env })).code, 0);
    assert.equal((await runCli(['append', '-'], { env, input: '{"stream":"ok","type":"custom.x","data":{"a":1}}\n' })).code, 0);
  });

  const refusals: [string, string | Buffer, RegExp][] = [
    ['data nested 5,000 levels', `{"stream":"s","type":"custom.x","data":{"a":${'['.repeat(5000)}${']'.repeat(5000)}}}\n`, /^runledger: stdin line 1: field data\.a\[0\].*nesting deeper than 64 levels \(docs\/limits\.md\)$/],
    ['invalid UTF-8', Buffer.from('{"stream":"u8","type":"custom.x","data":{"a":"x\xffy"}}\n', 'latin1'), /^runledger: stdin line 1: not valid UTF-8/],
    ['invalid UTF-8 on a later line', Buffer.concat([Buffer.from('{"stream":"u8","type":"custom.x","data":{}}\n'), Buffer.from('{"stream":"u8","type":"custom.x","data":{"a":"\xc3"}}\n', 'latin1')]), /^runledger: stdin line 2: not valid UTF-8/],
    ['a lone surrogate', '{"stream":"v","type":"custom.sample","data":{"s":"\\ud800x"}}\n', /^runledger: stdin line 1: field data\.s cannot be recorded as RFC 8785 JSON: lone surrogate/],
    ['a lone surrogate in the stream name', '{"stream":"v\\udc00","type":"custom.sample","data":{}}\n', /^runledger: stdin line 1: field stream cannot be recorded/],
    ['a __proto__ member', '{"stream":"v","type":"custom.sample","data":{"__proto__":{"admin":true}}}\n', /^runledger: stdin line 1: field data\.__proto__: the member name "__proto__" is refused/],
    ['a line over 1 MiB', `{"stream":"v","type":"custom.x","data":{"s":"${'x'.repeat(LIMITS.lineBytes)}"}}\n`, /^runledger: stdin line 1: the line is 1,048,6\d\d bytes, over the limit of 1,048,576 bytes \(docs\/limits\.md\)$/],
    ['more events than one append allows', '{"stream":"v","type":"custom.x","data":{}}\n'.repeat(LIMITS.eventsPerAppend + 1), /^runledger: stdin line 100001: the event count is more than 100,000 events, over the limit of 100,000 events per append/],
  ];
  for (const [what, input, message] of refusals) {
    it(`append refuses ${what} with exit 2, one sentence, nothing appended`, async function () {
      const before = await events();
      const result = await runCli(['append', '-'], { env, input });
      assert.equal(result.code, 2, result.stderr);
      assert.match(oneSentence(result.stderr), message);
      assert.equal(await events(), before);
    });
  }

  it('refuses an append input over 64 MiB before parsing a line of it', () => {
    assert.throws(() => parseAppendInput(Buffer.alloc(LIMITS.appendBytes + 1, 0x20), 'big.ndjson'), (err: unknown) => err instanceof InputError && /^big\.ndjson: the input is 67,108,865 bytes, over the limit of 67,108,864 bytes/.test(err.message));
  });

  it('Kafka ingest rejects a message value that is not UTF-8, over 1 MiB or holds a __proto__ member', () => {
    const value = (text: string): Buffer => Buffer.from(text, 'latin1');
    assert.match(String(decodeMessage({ key: null, value: value('{"stream":"k","type":"custom.k","data":{"a":"\xff"}}'), headers: {} })), /^value line 1: not valid UTF-8/);
    assert.match(String(decodeMessage({ key: null, value: Buffer.alloc(LIMITS.lineBytes + 1, 0x20), headers: {} })), /^value: the message is 1,048,577 bytes, over the limit of 1,048,576 bytes/);
    assert.match(String(decodeMessage({ key: null, value: value('{"stream":"k","type":"custom.k","data":{"__proto__":{}}}'), headers: {} })), /"__proto__" is refused/);
    assert.equal(typeof decodeMessage({ key: null, value: value('{"stream":"k","type":"custom.k","id":"3f2a7c1e-8b4d-4e6f-9a0b-1c2d3e4f5a6b","data":{"a":1}}'), headers: {} }), 'object');
  });

  it('project link refuses a run or campaign the ledger does not have, recording nothing', async function () {
    const before = await events();
    const result = await runCli(['project', 'link', 'run:nosuch', 'replay-of', 'run:other'], { env });
    assert.equal(result.code, 2);
    assert.match(oneSentence(result.stderr), /^runledger: from "run:nosuch": no run "nosuch" in the ledger; nothing was recorded$/);
    const campaign = await runCli(['project', 'link', 'campaign:nope', 'repeat-of', 'run:x'], { env });
    assert.equal(campaign.code, 2);
    assert.match(oneSentence(campaign.stderr), /no campaign "nope"/);
    assert.equal(await events(), before);
  });

  it('a command group without its subcommand answers with one usage line, exit 2', async function () {
    for (const group of ['project', 'stage', 'proof']) {
      const result = await runCli([group], { env });
      assert.equal(result.code, 2, group);
      assert.match(oneSentence(result.stderr), new RegExp(`^runledger: ${group} needs a subcommand: \\w+`), group);
      assert.equal(result.stdout, '');
    }
    const unknown = await runCli(['project', 'nosuch'], { env });
    assert.match(oneSentence(unknown.stderr), /unknown subcommand "project nosuch": use one of rebuild, summary, link, graph/);
    assert.equal((await runCli(['project', '--help'], { env })).code, 0, '--help still prints the whole help');
  });

  it('campaign --repeats 1e9 is refused by the limits policy before anything runs', async function () {
    const result = await runCli(['campaign', '--plan', 'docs/examples/train.yaml', '--repeats', '1e9'], { env });
    assert.equal(result.code, 2);
    assert.match(oneSentence(result.stderr), /--repeats 1e9: the campaign is 1,000,000,000 runs, over the limit of 1,000 runs/);
  });

  describe('data written into the store by other means', () => {
    const hostile: [string, string][] = [
      ['a lone surrogate', '{"s":"\\ud800x"}'],
      ['data nested 20,000 levels', `{"a":${'['.repeat(20_000)}${']'.repeat(20_000)}}`],
    ];
    for (const [what, dataText] of hostile) {
      it(`verify and replay name the event whose stored bytes hold ${what} (exit 1, not an internal error)`, async function () {
        const dir = freshHome();
        const e = { RUNLEDGER_HOME: dir };
        assert.equal((await runCli(['init'], { env: e })).code, 0);
        // A governed run's first event (its plan approval) is the one rewritten, so replay meets it too.
        assert.equal((await runCli(['plan', 'approve', 'docs/examples/plan.yaml', '--run', 'r1'], { env: e })).code, 0);
        const db = new Database(join(dir, 'ledger.db'));
        let id: string;
        try {
          const row = db.prepare('SELECT position, canonical FROM events').get() as { position: number; canonical: Buffer };
          const envelope = JSON.parse(row.canonical.toString('utf8'));
          id = envelope.id;
          const canonical = Buffer.from(withDataText(envelope, dataText), 'utf8');
          db.prepare('UPDATE events SET canonical = ?, leaf_hash = ? WHERE position = ?').run(canonical, leafHash(canonical), row.position);
        } finally {
          db.close();
        }
        const verify = await runCli(['verify', '--json', '--workers', '1'], { env: e });
        assert.equal(verify.code, 1, verify.stderr);
        const report = JSON.parse(verify.stdout);
        assert.equal(report.firstDivergence.check, 'bytes');
        assert.equal(report.firstDivergence.eventId, id);
        assert.doesNotMatch(verify.stderr, /internal error/);
        const parallel = await runCli(['verify', '--workers', '2'], { env: e });
        assert.equal(parallel.code, 1, parallel.stderr);
        assert.match(parallel.stdout, new RegExp(`FAILED: Leaf 0 \\(event ${id}`));
        const replay = await runCli(['replay', 'r1'], { env: e });
        assert.notEqual(replay.code, 0);
        assert.doesNotMatch(replay.stderr, /internal error|Maximum call stack/);
      });
    }
  });

  it('creates the home 0700 and the database, its -wal and -shm 0600 under umask 000', function () {
    const dir = join(freshHome(), 'home');
    const init = spawnSync('sh', ['-c', `umask 000; "${process.execPath}" "${cliPath}" --home "${dir}" init`], { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(init.status, 0, init.stderr);
    // Hold the store open with an append in flight so SQLite keeps its -wal and -shm files, and report their modes.
    const script = `
      const { openStore } = await import(${JSON.stringify(join(repoRoot, 'dist', 'src', 'store', 'open.js'))});
      const { statSync } = await import('node:fs');
      const store = await openStore('sqlite:${join(dir, 'ledger.db')}');
      await store.append('s', [{ type: 'custom.x', data: {} }]);
      const mode = (f) => (statSync('${join(dir, 'ledger.db')}' + f).mode & 0o777).toString(8);
      console.log(JSON.stringify({ db: mode(''), wal: mode('-wal'), shm: mode('-shm') }));
      await store.close();`;
    const held = spawnSync('sh', ['-c', `umask 000; "${process.execPath}" --input-type=module -e "$0"`, script], { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(held.status, 0, held.stderr);
    assert.deepEqual(JSON.parse(held.stdout), { db: '600', wal: '600', shm: '600' });
    assert.equal((statSync(dir).mode & 0o777).toString(8), '700');
    assert.equal((statSync(join(dir, 'keys', 'signing.key')).mode & 0o777).toString(8), '600');
  });
});
