// `runledger model …` as a user drives it on a ledger with completed runs: register, alias, history
// with proofs, show --at, bad input (exit 2) and a history the store's writer falsified (exit 1).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import { runCli } from '../support/cli.js';
import { freshLedger, populate } from '../server/fixture.js';

interface Entry {
  change: string;
  actor: string;
  recordedAt: string;
  reason: string | null;
  anchored: boolean;
  inclusion: { index: number; size: number; proof: string[] } | null;
}

describe('runledger model (end to end)', function () {
  this.timeout(120_000);
  let env: Record<string, string>;

  before(async () => {
    const ledger = await freshLedger();
    await populate(ledger);
    await ledger.close();
    env = { RUNLEDGER_HOME: ledger.home, RUNLEDGER_ACTOR: 'release-bot' };
  });

  it('registers a run, sets and moves an alias, and every change is anchored at once', async () => {
    const first = await runCli(['model', 'register', 'iris', '--run', 'base-1', '--json'], { env });
    assert.equal(first.code, 0, first.stderr);
    const reg = JSON.parse(first.stdout) as { data: { version: number }; anchoredBy: { size: number } | null };
    assert.equal(reg.data.version, 1);
    assert.ok(reg.anchoredBy !== null && reg.anchoredBy.size > 0);
    assert.equal((await runCli(['model', 'register', 'iris', '--run', 'base-2'], { env })).code, 0);
    const set = await runCli(['model', 'alias', 'iris', 'production', '1', '--reason', 'first'], { env });
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /Alias production of model iris -> version 1; anchored by signed checkpoint/);
    const move = await runCli(['model', 'alias', 'iris', 'production', '2', '--reason', 'better accuracy'], { env });
    assert.match(move.stdout, /-> version 2 \(was 1\)/);
  });

  it('prints the history with actor, time, reason and an inclusion proof for every change', async () => {
    const res = await runCli(['model', 'history', 'iris', '--json'], { env });
    assert.equal(res.code, 0, res.stderr);
    const history = JSON.parse(res.stdout) as { ok: boolean; anchored: boolean; aliases: Record<string, number>; entries: Entry[] };
    assert.equal(history.ok, true);
    assert.equal(history.anchored, true);
    assert.deepEqual(history.aliases, { production: 2 });
    assert.deepEqual(history.entries.map((e) => [e.change, e.actor, e.reason]), [
      ['registered', 'release-bot', null],
      ['registered', 'release-bot', null],
      ['alias-set', 'release-bot', 'first'],
      ['alias-moved', 'release-bot', 'better accuracy'],
    ]);
    for (const e of history.entries) {
      assert.ok(e.inclusion && e.inclusion.proof.length > 0 && e.anchored, JSON.stringify(e));
      assert.match(e.recordedAt, /^\d{4}-\d{2}-\d{2}T/);
    }
    const text = await runCli(['model', 'history', 'iris'], { env });
    assert.match(text.stdout, /every change proven under signed checkpoint/);
  });

  it('answers which version was production at a given time', async () => {
    const history = JSON.parse((await runCli(['model', 'history', 'iris', '--json'], { env })).stdout) as { entries: Entry[] };
    const atFirst = await runCli(['model', 'show', 'iris', '--at', history.entries[2]!.recordedAt, '--json'], { env });
    assert.equal(atFirst.code, 0, atFirst.stderr);
    const shown = JSON.parse(atFirst.stdout) as { aliases: { alias: string; version: number; setBy: Entry }[]; versions: number[] };
    assert.deepEqual(shown.aliases.map((a) => [a.alias, a.version]), [['production', 1]]);
    assert.ok(shown.aliases[0]!.setBy.inclusion);
    const now = await runCli(['model', 'show', 'iris'], { env });
    assert.match(now.stdout, /production\s+-> version 2/);
  });

  it('refuses bad input with exit 2 and one sentence, writing nothing', async () => {
    const cases: [string[], RegExp][] = [
      [['model', 'alias', 'iris', 'production', '9', '--reason', 'x'], /only versions 1\.\.2/],
      [['model', 'alias', 'iris', 'Prod', '1', '--reason', 'x'], /alias "Prod" must start with a lowercase letter/],
      [['model', 'alias', 'iris', 'staging', '--delete', '--reason', 'x'], /has no alias "staging"/],
      [['model', 'alias', 'iris', 'production', '1'], /--reason/],
      [['model', 'register', 'iris', '--run', 'cand-1'], /has not completed/],
      [['model', 'history', 'nope'], /model nope has no events/],
      [['model', 'show', 'iris', '--at', 'soon'], /--at "soon" is not a date/],
    ];
    for (const [args, message] of cases) {
      const res = await runCli(args, { env });
      assert.ok(res.code === 2 || res.code === 1, `${args.join(' ')}: exit ${res.code}`);
      assert.match(res.stderr, message, args.join(' '));
    }
    // The registry's own commands are its only door: append refuses its events and its streams.
    for (const line of [
      '{"stream":"model-iris","type":"ModelAliasSet","data":{"model":"iris","alias":"production","version":2,"previousVersion":1,"reason":"x"}}',
      '{"stream":"model-iris","type":"custom.note","data":{"a":1}}',
      '{"stream":"lab-1","type":"ModelAliasDeleted","data":{"model":"iris","alias":"production","previousVersion":1,"reason":"x"}}',
    ]) {
      const appended = await runCli(['append', '-'], { env, input: `${line}\n` });
      assert.equal(appended.code, 2, line);
      assert.match(appended.stderr, /model registry events .* are recorded by "runledger model" \(register, alias, tag, describe\)/);
    }
    const res = await runCli(['model', 'register', 'iris', '--run', 'cand-1'], { env });
    assert.equal(res.code, 1, 'an unverifiable run is a verification failure');
    const history = JSON.parse((await runCli(['model', 'history', 'iris', '--json'], { env })).stdout) as { entries: Entry[] };
    assert.equal(history.entries.length, 4, 'nothing was written');
  });

  it('tags and describes the model and a version; history shows each change with what it replaced', async () => {
    for (const run of ['base-1', 'base-2']) assert.equal((await runCli(['model', 'register', 'tagged', '--run', run], { env })).code, 0);
    const tagged = await runCli(['model', 'tag', 'tagged', 'team', 'vision', '--json'], { env });
    assert.equal(tagged.code, 0, tagged.stderr);
    const change = JSON.parse(tagged.stdout) as { type: string; data: unknown; anchoredBy: { size: number } | null };
    assert.equal(change.type, 'ModelTagSet');
    assert.deepEqual(change.data, { model: 'tagged', version: null, key: 'team', value: 'vision', previousValue: null });
    assert.ok(change.anchoredBy !== null);
    const again = await runCli(['model', 'tag', 'tagged', 'team', 'vision'], { env });
    assert.equal(again.code, 0);
    assert.match(again.stdout, /already "vision": nothing recorded/);
    assert.equal((await runCli(['model', 'tag', 'tagged', 'validation', 'passed', '--model-version', '2'], { env })).code, 0);
    assert.equal((await runCli(['model', 'describe', 'tagged', 'Iris classifier'], { env })).code, 0);
    const deleted = await runCli(['model', 'tag', 'tagged', 'team', '--delete'], { env });
    assert.match(deleted.stdout, /Deleted tag team of model tagged \(was "vision"\); anchored/);
    for (const [args, message] of [
      [['model', 'tag', 'tagged', 'team', '--delete'], /model tagged has no tag "team"/],
      [['model', 'tag', 'tagged', 'team', 'x', '--delete'], /--delete takes no value/],
      [['model', 'tag', 'tagged', 'team'], /tag team needs a value/],
      [['model', 'tag', 'tagged', 'bad key!', 'x'], /field data\.key: must be 1 to 250/],
      [['model', 'tag', 'tagged', 'k', 'v', '--model-version', '9'], /model tagged has no version 9/],
      [['model', 'describe', 'tagged', 'x', '--model-version', 'two'], /--model-version must be a positive integer, got "two"/],
    ] as [string[], RegExp][]) {
      const res = await runCli(args, { env });
      assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, message);
    }
    const history = JSON.parse((await runCli(['model', 'history', 'tagged', '--json'], { env })).stdout) as {
      ok: boolean;
      tags: Record<string, string>;
      description: string | null;
      versions: { tags: Record<string, string> }[];
      entries: (Entry & { key: string | null; value: string | null; previousValue: string | null })[];
    };
    assert.equal(history.ok, true);
    assert.deepEqual(history.tags, {});
    assert.equal(history.description, 'Iris classifier');
    assert.deepEqual(history.versions.map((v) => v.tags), [{}, { validation: 'passed' }]);
    assert.deepEqual(history.entries.slice(-4).map((e) => [e.change, e.key, e.value, e.previousValue]), [
      ['tag-set', 'team', 'vision', null],
      ['tag-set', 'validation', 'passed', null],
      ['description-set', null, 'Iris classifier', null],
      ['tag-deleted', 'team', null, 'vision'],
    ]);
    const text = await runCli(['model', 'history', 'tagged'], { env });
    assert.match(text.stdout, /tagged version 2 validation="passed"/);
    assert.match(text.stdout, /deleted tag team of the model \(was "vision"\)/);
  });

  it('exits 1 naming the event when the store holds a change the rules forbid', async () => {
    // Written past every door, straight through the store port (as SQL or a modified binary could).
    const store = createSqliteStore({ path: join(env.RUNLEDGER_HOME!, 'ledger.db') });
    try {
      await store.append('model-iris', [{ type: 'ModelAliasDeleted', data: { model: 'iris', alias: 'staging', previousVersion: 1, reason: 'forged' } }]);
    } finally {
      await store.close();
    }
    assert.equal((await runCli(['checkpoint'], { env })).code, 0);
    const res = await runCli(['model', 'history', 'iris'], { env });
    assert.equal(res.code, 1);
    assert.match(res.stdout, /NOT VERIFIED: Event .* \(ModelAliasDeleted, stream "model-iris" revision 4\) breaks the registry rules: it deletes alias "staging", which model iris does not have/);
    assert.equal((await runCli(['model', 'show', 'iris'], { env })).code, 1);
  });
});
