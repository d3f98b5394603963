// The batch iterator copies nothing beyond one batch, and the trainer's reductions follow the batch
// order exactly: the same order gives the same bits, a permuted order within a batch does not.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as tf from '@tensorflow/tfjs';
import { activateBackend } from '../../workers/backend.js';
import { epochBatches } from '../../workers/batches.js';
import { loadDataset, splitDataset } from '../../workers/dataset.js';
import { disposeModel, initModel, stateTensors, trainStep } from '../../workers/model.js';
import { deriveSeed, seededPermutation } from '../../workers/seeds.js';
import { smallConfig } from './fixture.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('workers/batches', function () {
  this.timeout(60_000);

  it('yields every row once per epoch in the given order, the last batch short', () => {
    const f = 3;
    const x = Float32Array.from({ length: 10 * f }, (_, i) => i);
    const y = Int32Array.from({ length: 10 }, (_, i) => 100 + i);
    const order = [9, 2, 5, 0, 7, 1, 8, 3, 6, 4];
    const seen: number[][] = [];
    for (const b of epochBatches(x, y, f, order, 4)) {
      assert.equal(b.x.length, b.rows * f);
      seen.push([...b.y].map((v) => v - 100));
      [...b.y].forEach((label, i) => assert.deepEqual([...b.x.subarray(i * f, (i + 1) * f)], [0, 1, 2].map((k) => (label - 100) * f + k)));
    }
    assert.deepEqual(seen, [[9, 2, 5, 0], [7, 1, 8, 3], [6, 4]]);
  });

  it('allocates about one batch per epoch, not the dataset: ArrayBuffer memory over an epoch of a 5 MB split grows by at most a few batches', () => {
    const rows = 250_000;
    const f = 4;
    const batchSize = 16;
    const x = new Float32Array(rows * f).map((_, i) => i % 97);
    const y = new Int32Array(rows).map((_, i) => i % 3);
    const order = seededPermutation(rows, 7);
    const datasetBytes = x.byteLength + y.byteLength;
    const batchBytes = batchSize * (f * 4 + 4);
    gc();
    const before = process.memoryUsage().arrayBuffers;
    let peak = 0;
    let checksum = 0;
    for (const b of epochBatches(x, y, f, order, batchSize)) {
      checksum += b.x[0]! + b.y[0]!;
      if (b.index % 256 === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    }
    peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    assert.ok(checksum > 0);
    // Measured here: 256 bytes, the one feature buffer (V8 keeps the 64-byte label buffer on its heap). A permuted
    // copy of the split shows 4 MB, a fresh array per batch about 0.7 MB before the collector catches up.
    assert.ok(peak <= 4 * batchBytes, `epoch grew ArrayBuffer memory by ${peak} bytes; one batch is ${batchBytes}, the dataset ${datasetBytes}`);
  });

  // Perturbations keep every row and every batch's rows: only the order of additions or of updates changes.
  type Perturbation = 'none' | 'swap-batches' | 'reverse-rows';
  const perturbations: ['cpu' | 'wasm', Exclude<Perturbation, 'none'>][] = [
    ['cpu', 'swap-batches'],
    ['wasm', 'swap-batches'],
    // wasm accumulates a batch's gradient in float32, so re-associating its sum shows in the bits; the
    // cpu kernels accumulate in float64 and round once, which at 16 rows left every bit unchanged.
    ['wasm', 'reverse-rows'],
  ];
  for (const [backend, perturbation] of perturbations) {
    it(`reduces in a fixed order (${backend}): the same order gives bit-identical weights, ${perturbation === 'swap-batches' ? 'swapping the first two batches of an epoch' : "reversing the rows of one batch"} changes them`, async () => {
      await activateBackend(backend);
      const config = smallConfig({ backend });
      const split = splitDataset(loadDataset(config.dataset), config.seed, config.dataset.testFraction);
      const digestAfter = (perturb: Perturbation): string => {
        const state = initModel(config, split.featureCount, split.classCount);
        try {
          for (let epoch = 1; epoch <= 2; epoch++) {
            const order = seededPermutation(split.trainY.length, deriveSeed(config.seed, 'epoch', epoch));
            const n = config.batchSize;
            if (epoch === 1 && perturb === 'swap-batches') order.splice(0, 2 * n, ...order.slice(n, 2 * n), ...order.slice(0, n));
            // (Swapping two rows is not enough: a + b = b + a exactly; reversing the batch re-associates the sums.)
            if (epoch === 1 && perturb === 'reverse-rows') order.splice(0, n, ...order.slice(0, n).reverse());
            for (const b of epochBatches(split.trainX, split.trainY, split.featureCount, order, n)) {
              tf.tidy(() => {
                const xs = tf.tensor2d(b.x, [b.rows, split.featureCount]);
                const ys = tf.oneHot(tf.tensor1d(b.y, 'int32'), split.classCount) as tf.Tensor2D;
                trainStep(state, config, xs, ys);
              });
            }
          }
          const hash = createHash('sha256');
          for (const t of stateTensors(state)) hash.update(Buffer.from(t.values.buffer, t.values.byteOffset, t.values.byteLength));
          return hash.digest('hex');
        } finally {
          disposeModel(state);
        }
      };
      const a = digestAfter('none');
      assert.equal(digestAfter('none'), a, 'the same order reproduces the same bits');
      assert.notEqual(digestAfter(perturbation), a, 'a different order must show in the bits, or this test proves nothing');
      await activateBackend('cpu');
    });
  }
});
