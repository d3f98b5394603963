// The model registry over a real ledger: versions only from verified runs, optimistic concurrency,
// history with inclusion proofs an outsider can check, and a history that will not lie about a store
// written by other means (forged events through the port, bytes changed by SQL).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ConcurrencyError, InputError, IntegrityError } from '../../src/errors.js';
import { openCheckpoint } from '../../src/integrity/checkpoint.js';
import { leafHash } from '../../src/integrity/hasher.js';
import { verifyInclusion } from '../../src/integrity/proof.js';
import { loadVerifierKey } from '../../src/ledger/keys.js';
import { anchorChange, deleteAlias, deleteTag, readModel, registerVersion, setAlias, setDescription, setMetadata, setTag } from '../../src/registry/model-registry.js';
import { modelAt, readModelHistory } from '../../src/registry/model-history.js';
import { modelStream } from '../../src/registry/model-rules.js';
import { openStore } from '../../src/store/open.js';
import { startRun } from '../../src/runs/run.js';
import { sha256Hex } from '../../src/integrity/hasher.js';
import { checkpointLedger, freshLedger, populate, type Ledger } from '../server/fixture.js';

describe('model registry (store)', function () {
  this.timeout(60_000);
  let ledger: Ledger;
  let keys: string[];

  beforeEach(async () => {
    ledger = await freshLedger();
    await populate(ledger);
    keys = [loadVerifierKey(ledger.home)];
  });
  afterEach(async () => ledger.close());

  const register = (runId: string, model = 'iris') => registerVersion(ledger.store, { model, runId, actor: 'alice', verifierKeys: keys });

  it('registers a verified, completed run\'s final signed checkpoint as version 1, 2, … and refuses an unfinished run', async () => {
    const v1 = await register('base-1');
    const v2 = await register('base-2');
    assert.deepEqual([v1.data, v2.data].map((d) => (d as { version: number }).version), [1, 2]);
    const d = v1.data as { checkpoint: { digest: string }; source: { stream: string; revision: number }; verifiedAgainst: { treeSize: number } };
    assert.equal(d.source.stream, 'run-base-1');
    assert.ok(d.verifiedAgainst.treeSize > 0);
    await assert.rejects(register('cand-1'), (err: Error) => err instanceof IntegrityError && /has not completed/.test(err.message));
    await assert.rejects(register('no-such-run'), InputError);
    assert.equal((await readModel(ledger.store, 'iris')).versions.length, 2);
  });

  it('refuses to register a run whose replay fails (an event altered by SQL)', async () => {
    await ledger.close();
    const db = new Database(join(ledger.home, 'ledger.db'));
    const row = db.prepare(`SELECT position, canonical FROM events WHERE stream = 'run-base-2' AND type = 'TelemetrySample' LIMIT 1`).get() as { position: number; canonical: Buffer };
    db.prepare('UPDATE events SET canonical = ? WHERE position = ?').run(Buffer.from(row.canonical.toString('utf8').replace('"step":', '"step": ')), row.position);
    db.close();
    ledger.store = await openStore(`sqlite:${join(ledger.home, 'ledger.db')}`);
    await assert.rejects(register('base-2'), (err: Error) => err instanceof IntegrityError && /run base-2 is not verified/.test(err.message));
    await assert.rejects(readModelHistory(ledger.store, 'iris', { verifierKeys: keys }), InputError, 'nothing was registered');
  });

  it('lets only one of two concurrent writers of the same version win', async () => {
    // Both writers read the model's state before either appends: each append to the model stream
    // waits until the other writer's append is pending too, so the race happens on every run.
    const pending: (() => void)[] = [];
    const store = ledger.store;
    const racing = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'append') {
          return async (...args: Parameters<typeof store.append>) => {
            if (args[0] === modelStream('iris')) {
              await new Promise<void>((resolve) => {
                pending.push(resolve);
                if (pending.length === 2) for (const release of pending) release();
              });
            }
            return target.append(...args);
          };
        }
        const value: unknown = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const registerRacing = (runId: string) => registerVersion(racing, { model: 'iris', runId, actor: 'alice', verifierKeys: keys });
    const results = await Promise.allSettled([registerRacing('base-1'), registerRacing('base-2')]);
    const rejected = results.filter((r) => r.status === 'rejected');
    assert.equal(rejected.length, 1);
    assert.ok((rejected[0] as PromiseRejectedResult).reason instanceof ConcurrencyError);
    const events = await ledger.store.readStream(modelStream('iris'));
    assert.deepEqual(events.map((e) => [e.envelope.revision, (e.envelope.data as { version: number }).version]), [[0, 1]]);
  });

  it('answers history with actor, time, reason and inclusion proofs that verify against the signed note', async () => {
    await register('base-1');
    await register('base-2');
    // recordedAt has millisecond resolution: "at time T" includes every change recorded in T's
    // millisecond, so the changes whose moments are asked about below are kept apart.
    const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 3));
    await setAlias(ledger.store, { model: 'iris', alias: 'production', version: 1, reason: 'first', actor: 'alice' });
    await tick();
    await setAlias(ledger.store, { model: 'iris', alias: 'production', version: 2, reason: 'better', actor: 'bob' });
    await setAlias(ledger.store, { model: 'iris', alias: 'staging', version: 1, reason: 'try', actor: 'carol' });
    await tick();
    await deleteAlias(ledger.store, { model: 'iris', alias: 'staging', reason: 'done', actor: 'carol' });
    await anchorChange(ledger.store, ledger.home);
    const history = await readModelHistory(ledger.store, 'iris', { verifierKeys: keys });
    assert.equal(history.ok, true, history.firstDivergence?.message);
    assert.equal(history.anchored, true);
    // Order as the store hands it out: revisions 0..5.
    assert.deepEqual(history.entries.map((e) => [e.revision, e.change, e.actor, e.reason]), [
      [0, 'registered', 'alice', null],
      [1, 'registered', 'alice', null],
      [2, 'alias-set', 'alice', 'first'],
      [3, 'alias-moved', 'bob', 'better'],
      [4, 'alias-set', 'carol', 'try'],
      [5, 'alias-deleted', 'carol', 'done'],
    ]);
    assert.deepEqual(history.aliases, { production: 2 });
    const signed = openCheckpoint(history.checkpoint!.note, keys);
    const events = await ledger.store.readStream(modelStream('iris'));
    for (const [i, entry] of history.entries.entries()) {
      const proof = entry.inclusion!;
      // Independently: the leaf is the hash of the stored bytes, and the path leads to the signed root.
      assert.equal(proof.leafHash, leafHash(events[i]!.canonical).toString('hex'));
      assert.equal(proof.root, signed.root.toString('hex'));
      verifyInclusion(proof.index, proof.size, Buffer.from(proof.leafHash, 'hex'), proof.proof.map((h) => Buffer.from(h, 'hex')), signed.root);
    }
    // Which version was production at each moment.
    const t = (i: number): string => history.entries[i]!.recordedAt;
    assert.deepEqual(modelAt(history, '2000-01-01T00:00:00Z').aliases, []);
    assert.deepEqual(modelAt(history, t(2)).aliases.map((a) => [a.alias, a.version]), [['production', 1]]);
    assert.deepEqual(modelAt(history, t(4)).aliases.map((a) => [a.alias, a.version]), [['production', 2], ['staging', 1]]);
    assert.deepEqual(modelAt(history, t(5)).aliases.map((a) => [a.alias, a.version, a.setBy.actor]), [['production', 2, 'bob']]);
    for (const bad of ['yesterday', '2026', 'May 1, 2026', '2026-13-01T00:00:00Z']) assert.throws(() => modelAt(history, bad), InputError, bad);
    assert.deepEqual(modelAt(history, '2000-01-01').aliases, [], 'a date alone is its midnight UTC');
  });

  it('lists changes after the latest signed checkpoint as not anchored, never as proven', async () => {
    await register('base-1');
    await anchorChange(ledger.store, ledger.home);
    await setAlias(ledger.store, { model: 'iris', alias: 'production', version: 1, reason: 'first', actor: 'alice' });
    const history = await readModelHistory(ledger.store, 'iris', { verifierKeys: keys });
    assert.equal(history.ok, true);
    assert.equal(history.anchored, false);
    assert.deepEqual(history.entries.map((e) => [e.anchored, e.inclusion === null]), [[true, false], [false, true]]);
    assert.equal(modelAt(history, new Date().toISOString()).anchored, false);
  });

  it('catches an alias to a missing version appended through the port, naming the event', async () => {
    await register('base-1');
    // A writer that skips the registry rules (append, SQL, another tool): schema-valid, rule-breaking.
    await ledger.store.append(modelStream('iris'), [{ type: 'ModelAliasSet', data: { model: 'iris', alias: 'production', version: 7, previousVersion: null, reason: 'forged' } }]);
    await checkpointLedger(ledger);
    const history = await readModelHistory(ledger.store, 'iris', { verifierKeys: keys });
    assert.equal(history.ok, false);
    assert.equal(history.firstDivergence?.check, 'rule');
    assert.equal(history.firstDivergence?.revision, 1);
    assert.match(history.firstDivergence!.message, /version 7, but model iris has only versions 1\.\.1/);
    assert.equal(history.entries.length, 1, 'only the events before the divergence are reported');
    await assert.rejects(setAlias(ledger.store, { model: 'iris', alias: 'staging', version: 1, reason: 'x', actor: 'a' }), IntegrityError);
  });

  it('catches a forged registration of a run that never wrote that checkpoint', async () => {
    const real = await register('base-1');
    const forged = { ...(real.data as Record<string, unknown>), version: 2, runId: 'base-2' };
    await ledger.store.append(modelStream('iris'), [{ type: 'ModelVersionRegistered', data: forged }]);
    await checkpointLedger(ledger);
    const history = await readModelHistory(ledger.store, 'iris', { verifierKeys: keys });
    assert.equal(history.firstDivergence?.check, 'registration');
    assert.equal(history.firstDivergence?.revision, 1);
    assert.match(history.firstDivergence!.message, /registers version 2 from run base-2, but/);
  });

  it('records tags and descriptions of the model and of its versions, each change naming what it replaces', async () => {
    await registerVersion(ledger.store, { model: 'iris', runId: 'base-1', tags: { validation: 'pending' }, description: 'first', actor: 'alice', verifierKeys: keys });
    assert.equal((await ledger.store.readStream(modelStream('iris'))).length, 2, 'the registration and its tag, in one append');
    await setMetadata(ledger.store, { model: 'iris', tags: { team: 'vision', constructor: 'x' }, description: 'Iris classifier', actor: 'bob' });
    const moved = await setTag(ledger.store, { model: 'iris', version: 1, key: 'validation', value: 'passed', actor: 'carol' });
    assert.deepEqual(moved?.data, { model: 'iris', version: 1, key: 'validation', value: 'passed', previousValue: 'pending' });
    assert.equal(await setTag(ledger.store, { model: 'iris', version: 1, key: 'validation', value: 'passed', actor: 'carol' }), null, 'the same value again records nothing');
    await deleteTag(ledger.store, { model: 'iris', key: 'constructor', actor: 'bob' });
    await setDescription(ledger.store, { model: 'iris', version: 1, description: 'first, retrained', actor: 'alice' });
    await assert.rejects(deleteTag(ledger.store, { model: 'iris', key: 'constructor', actor: 'bob' }), (err: Error) => err instanceof InputError && /model iris has no tag "constructor"/.test(err.message));
    await assert.rejects(setTag(ledger.store, { model: 'iris', version: 2, key: 'k', value: 'v', actor: 'a' }), (err: Error) => err instanceof InputError && /no version 2/.test(err.message));
    await assert.rejects(setTag(ledger.store, { model: 'iris', key: 'bad key!', value: 'v', actor: 'a' }), (err: Error) => err instanceof InputError && /data\.key/.test(err.message));
    await anchorChange(ledger.store, ledger.home);
    const history = await readModelHistory(ledger.store, 'iris', { verifierKeys: keys });
    assert.equal(history.ok, true, history.firstDivergence?.message);
    assert.deepEqual(history.tags, { team: 'vision' });
    assert.equal(history.description, 'Iris classifier');
    assert.deepEqual(history.versions.map((v) => [v.tags, v.description]), [[{ validation: 'passed' }, 'first, retrained']]);
    assert.deepEqual(
      history.entries.map((e) => [e.change, e.version, e.key, e.value, e.previousValue, e.actor]),
      [
        ['registered', 1, null, null, null, 'alice'],
        ['tag-set', 1, 'validation', 'pending', null, 'alice'],
        ['tag-set', null, 'team', 'vision', null, 'bob'],
        ['tag-set', null, 'constructor', 'x', null, 'bob'],
        ['description-set', null, null, 'Iris classifier', null, 'bob'],
        ['tag-set', 1, 'validation', 'passed', 'pending', 'carol'],
        ['tag-deleted', null, 'constructor', null, 'x', 'bob'],
        ['description-set', 1, null, 'first, retrained', 'first', 'alice'],
      ],
    );
    assert.ok(history.entries.every((e) => e.anchored));
    assert.deepEqual(modelAt(history, new Date().toISOString()).versions, [1], 'tag changes are not versions or aliases');
  });

  it('catches tag and description changes appended through the port that misstate what they replace or name no version', async () => {
    await register('base-1');
    await setTag(ledger.store, { model: 'iris', version: 1, key: 'validation', value: 'pending', actor: 'alice' });
    const forgeries: [Record<string, unknown>, RegExp][] = [
      // "It was never pending": a writer rewriting what the tag replaced.
      [{ type: 'ModelTagSet', data: { model: 'iris', version: 1, key: 'validation', value: 'passed', previousValue: null } }, /tag "validation" of version 1 of model iris was unset, but it was "pending"/],
      [{ type: 'ModelTagSet', data: { model: 'iris', version: 4, key: 'validation', value: 'passed', previousValue: null } }, /changes version 4, but model iris has only versions 1\.\.1/],
      [{ type: 'ModelTagDeleted', data: { model: 'iris', version: null, key: 'validation', previousValue: 'pending' } }, /deletes tag "validation", which model iris does not have/],
      [{ type: 'ModelDescriptionSet', data: { model: 'iris', version: 1, description: 'better', previousDescription: 'something else' } }, /description of version 1 of model iris was "something else", but it was unset/],
    ];
    for (const [event, message] of forgeries) {
      const fresh = await freshLedger();
      try {
        await populate(fresh);
        const k = [loadVerifierKey(fresh.home)];
        await registerVersion(fresh.store, { model: 'iris', runId: 'base-1', actor: 'alice', verifierKeys: k });
        await setTag(fresh.store, { model: 'iris', version: 1, key: 'validation', value: 'pending', actor: 'alice' });
        await fresh.store.append(modelStream('iris'), [event as { type: string; data: Record<string, unknown> }]);
        await checkpointLedger(fresh);
        const history = await readModelHistory(fresh.store, 'iris', { verifierKeys: k });
        assert.equal(history.ok, false, JSON.stringify(event));
        assert.equal(history.firstDivergence?.check, 'rule');
        assert.equal(history.firstDivergence?.revision, 2);
        assert.match(history.firstDivergence!.message, message);
        await assert.rejects(setTag(fresh.store, { model: 'iris', key: 'k', value: 'v', actor: 'a' }), IntegrityError, 'no write on top of a history that breaks the rules');
      } finally {
        await fresh.close();
      }
    }
  });

  it('catches a model event whose bytes were changed by SQL', async () => {
    await register('base-1');
    await setAlias(ledger.store, { model: 'iris', alias: 'production', version: 1, reason: 'first', actor: 'alice' });
    await anchorChange(ledger.store, ledger.home);
    await ledger.close();
    const db = new Database(join(ledger.home, 'ledger.db'));
    const row = db.prepare(`SELECT position, canonical FROM events WHERE stream = 'model-iris' AND revision = 1`).get() as { position: number; canonical: Buffer };
    db.prepare('UPDATE events SET canonical = ? WHERE position = ?').run(Buffer.from(row.canonical.toString('utf8').replace('"reason":"first"', '"reason":"audit"')), row.position);
    db.close();
    ledger.store = await openStore(`sqlite:${join(ledger.home, 'ledger.db')}`);
    const history = await readModelHistory(ledger.store, 'iris', { verifierKeys: keys });
    assert.equal(history.ok, false);
    assert.equal(history.firstDivergence?.check, 'inclusion');
    assert.equal(history.firstDivergence?.revision, 1);
    assert.equal(history.entries.length, 1);
  });

  describe('artifact versions (what an MLflow client registers as runs:/<run>/<path>)', () => {
    const ctx = () => ({ store: ledger.store, home: ledger.home, actor: 'alice' });
    async function loggedRun(runId: string, end = true): Promise<void> {
      const run = await startRun(ctx(), { runId, external: { name: 'user-code' } });
      await run.logArtifact({ path: 'model/MLmodel', bytes: Buffer.from('flavors: {}\n') });
      await run.logArtifact({ path: 'model/weights.bin', bytes: Buffer.from([1, 2, 3]) });
      await run.logArtifact({ path: 'model/weights.bin', bytes: Buffer.from([4, 5, 6]) });
      await run.logArtifact({ path: 'notes.txt', bytes: Buffer.from('not the model') });
      if (end) await run.end();
      await checkpointLedger(ledger);
    }
    const registerArtifact = (runId: string, artifact: string, model = 'iris') => registerVersion(ledger.store, { model, runId, artifact, actor: 'alice', verifierKeys: keys });

    it('registers the latest file at each path under the artifact path, and history shows it as an artifact version', async () => {
      await loggedRun('user-1');
      const change = await registerArtifact('user-1', 'model');
      const data = change.data as { checkpoint: unknown; source: unknown; artifact: { path: string; files: { path: string; digest: string }[] } };
      assert.equal(data.checkpoint, null);
      assert.equal(data.source, null);
      assert.deepEqual(data.artifact.files.map((f) => f.path), ['model/MLmodel', 'model/weights.bin']);
      assert.equal(data.artifact.files[1]!.digest, sha256Hex(Buffer.from([4, 5, 6])), 'the file logged last at a path is the one registered');
      await anchorChange(ledger.store, ledger.home);
      const history = await readModelHistory(ledger.store, 'iris', { verifierKeys: keys });
      assert.equal(history.ok, true, history.firstDivergence?.message);
      assert.equal(history.versions[0]!.kind, 'artifact');
      assert.deepEqual(history.versions[0]!.artifact?.files.map((f) => f.path), ['model/MLmodel', 'model/weights.bin']);
      assert.equal(history.entries[0]!.artifactPath, 'model');
      // A single file registers too.
      assert.deepEqual(((await registerArtifact('user-1', 'notes.txt')).data as typeof data).artifact.files.map((f) => f.path), ['notes.txt']);
    });

    it('refuses a path the run logged nothing under, both a checkpoint and an artifact, and a run that has not ended', async () => {
      await loggedRun('user-2');
      await assert.rejects(registerArtifact('user-2', 'mod'), (err: Error) => err instanceof InputError && /run user-2 logged no artifact at "mod"/.test(err.message), '"mod" is not a directory prefix of "model/..."');
      await assert.rejects(registerVersion(ledger.store, { model: 'iris', runId: 'user-2', artifact: 'model', checkpoint: 'a'.repeat(64), actor: 'a', verifierKeys: keys }), /either a checkpoint or an artifact path/);
      await assert.rejects(registerVersion(ledger.store, { model: 'iris', runId: 'user-2', actor: 'a', verifierKeys: keys }), /has no signed checkpoint/);
      await loggedRun('user-3', false);
      await assert.rejects(registerArtifact('user-3', 'model'), (err: Error) => err instanceof IntegrityError && /has not completed/.test(err.message));
      await assert.rejects(readModelHistory(ledger.store, 'iris', { verifierKeys: keys }), InputError, 'nothing was registered');
    });

    it('catches forged artifact registrations appended by other means: a file swapped, a file left out, a digest changed', async () => {
      await loggedRun('user-4');
      const real = (await registerArtifact('user-4', 'model')).data as { artifact: { path: string; files: Record<string, unknown>[] } } & Record<string, unknown>;
      const [mlmodel, weights] = real.artifact.files as [Record<string, unknown>, Record<string, unknown>];
      const forgeries: [string, unknown, RegExp][] = [
        ['a file left out', { path: 'model', files: [mlmodel] }, /artifact model of run user-4 holds model\/MLmodel, model\/weights\.bin, but the registration lists model\/MLmodel/],
        ['a digest changed', { path: 'model', files: [mlmodel, { ...weights, digest: 'f'.repeat(64) }] }, /file model\/weights\.bin recorded by the registration differs from ArtifactRecorded/],
        ['an older copy of a file', { path: 'model', files: [mlmodel, { ...weights, source: { ...(weights.source as object), revision: (weights.source as { revision: number }).revision - 1 } }] }, /differs from ArtifactRecorded|is .* not /],
      ];
      for (const [i, [what, artifact, message]] of forgeries.entries()) {
        await ledger.store.append(modelStream(`forged-${i}`), [{ type: 'ModelVersionRegistered', data: { ...real, model: `forged-${i}`, artifact } }]);
        await checkpointLedger(ledger);
        const history = await readModelHistory(ledger.store, `forged-${i}`, { verifierKeys: keys });
        assert.equal(history.firstDivergence?.check, 'registration', what);
        assert.match(history.firstDivergence!.message, message, what);
      }
    });
  });
});
