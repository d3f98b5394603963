// The registry rules as a pure function: every rule refuses what it forbids and allows what it should.
import assert from 'node:assert/strict';
import { evolveModel, initialModelState, modelStream, modelViolation, type ModelEvent, type ModelState } from '../../src/registry/model-rules.js';

const STREAM = modelStream('iris');
let clock = Date.parse('2026-01-01T00:00:00.000Z');
const at = (): string => new Date((clock += 1000)).toISOString();

function registered(version: number): ModelEvent {
  return {
    stream: STREAM,
    type: 'ModelVersionRegistered',
    metadata: { recordedAt: at() },
    data: {
      model: 'iris',
      version,
      runId: `run-${version}`,
      checkpoint: { digest: 'a'.repeat(64), bytes: 10, epoch: 1, step: 0, signature: 'AA==', publicKey: 'AA==', metrics: { trainLoss: 1, trainAccuracy: 0.5, testLoss: 1, testAccuracy: 0.5 } },
      source: { stream: `run-run-${version}`, revision: 3, eventId: 'e', index: 3 },
      verifiedAgainst: { treeSize: 10, root: 'b'.repeat(64) },
      description: null,
      artifact: null,
    },
  };
}
const aliasSet = (alias: string, version: number, previousVersion: number | null): ModelEvent => ({ stream: STREAM, type: 'ModelAliasSet', metadata: { recordedAt: at() }, data: { model: 'iris', alias, version, previousVersion, reason: 'because' } });
const aliasDeleted = (alias: string, previousVersion: number): ModelEvent => ({ stream: STREAM, type: 'ModelAliasDeleted', metadata: { recordedAt: at() }, data: { model: 'iris', alias, previousVersion, reason: 'because' } });

function fold(events: ModelEvent[]): ModelState {
  let state = initialModelState('iris');
  for (const e of events) {
    const violation = modelViolation(state, e);
    assert.equal(violation, null, violation?.message);
    state = evolveModel(state, e);
  }
  return state;
}

describe('model registry rules', () => {
  it('reads version 1 registrations (a checkpoint, no artifact field) and holds version 2 to exactly one of checkpoint and artifact', () => {
    const { artifact: _none, ...v1 } = registered(1).data as Record<string, unknown>;
    const state = fold([{ ...registered(1), schemaVersion: 1, data: v1 }]);
    assert.equal(state.versions[0]!.artifact, null, 'a version 1 registration is a checkpoint version');
    const file = { path: 'model/MLmodel', digest: 'c'.repeat(64), bytes: 3, mediaType: null, signature: 'AA==', publicKey: 'AA==', source: { stream: 'run-run-2', revision: 4, eventId: 'f', index: 9 } };
    const artifact = { path: 'model', files: [file] };
    const asArtifact = { ...(registered(2).data as Record<string, unknown>), checkpoint: null, source: null, artifact };
    assert.equal(modelViolation(state, { ...registered(2), data: asArtifact }), null);
    const both = { ...(registered(2).data as Record<string, unknown>), artifact };
    const neither = { ...asArtifact, artifact: null };
    for (const data of [both, neither]) assert.match(modelViolation(state, { ...registered(2), data })!.message, /a version is either a checkpoint \(checkpoint and source\) or an artifact \(artifact\), not both or neither/);
    assert.match(modelViolation(state, { ...registered(2), schemaVersion: 1, data: asArtifact })!.message, /field data\.checkpoint/, 'version 1 has no artifact versions');
  });

  it('allows dense versions, setting, moving and deleting aliases', () => {
    const state = fold([registered(1), registered(2), aliasSet('production', 1, null), aliasSet('production', 2, 1), aliasSet('staging', 1, null), aliasDeleted('staging', 1)]);
    assert.equal(state.versions.length, 2);
    assert.deepEqual(state.aliases, { production: 2 });
    assert.equal(state.revision, 5);
  });

  it('refuses a version number that is not the next one (versions are dense)', () => {
    const state = fold([registered(1)]);
    assert.match(modelViolation(state, registered(3))!.message, /next version of model iris is 2/);
    assert.match(modelViolation(state, registered(1))!.message, /next version of model iris is 2/);
  });

  it('refuses an alias to a version that does not exist', () => {
    assert.match(modelViolation(initialModelState('iris'), aliasSet('production', 1, null))!.message, /has no versions/);
    assert.match(modelViolation(fold([registered(1)]), aliasSet('production', 2, null))!.message, /only versions 1\.\.1/);
  });

  it('refuses alias names outside the pattern and the reserved names', () => {
    const state = fold([registered(1)]);
    for (const alias of ['Production', '1st', 'latest', 'v2', 'a b', '']) {
      assert.match(modelViolation(state, aliasSet(alias, 1, null))!.message, /field data\.alias/, alias);
    }
  });

  it('refuses a move whose previousVersion is not what the alias held, and a no-op move', () => {
    const state = fold([registered(1), registered(2), aliasSet('production', 1, null)]);
    assert.match(modelViolation(state, aliasSet('production', 2, null))!.message, /pointed at version 1/);
    assert.match(modelViolation(state, aliasSet('production', 2, 2))!.message, /pointed at version 1/);
    assert.match(modelViolation(state, aliasSet('production', 1, 1))!.message, /already points at version 1/);
  });

  it('deletes only an existing alias, naming the version it held', () => {
    const state = fold([registered(1), aliasSet('production', 1, null)]);
    assert.match(modelViolation(state, aliasDeleted('staging', 1))!.message, /does not have/);
    assert.match(modelViolation(fold([registered(1), registered(2), aliasSet('staging', 2, null)]), aliasDeleted('staging', 1))!.message, /pointed at version 2/);
  });

  it('refuses other event types, other streams, other models and time running backwards', () => {
    const state = fold([registered(1)]);
    assert.match(modelViolation(state, { stream: STREAM, type: 'custom.note', metadata: { recordedAt: at() }, data: {} })!.message, /holds only/);
    assert.match(modelViolation(state, { ...aliasSet('production', 1, null), stream: 'model-other' })!.message, /belongs to stream "model-other"/);
    const other = aliasSet('production', 1, null);
    assert.match(modelViolation(state, { ...other, data: { ...other.data, model: 'other' } })!.message, /names model "other"/);
    assert.match(modelViolation(state, { ...aliasSet('production', 1, null), metadata: { recordedAt: '2020-01-01T00:00:00.000Z' } })!.message, /before the event preceding it/);
  });
});
