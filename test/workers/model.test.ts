// The model's own arithmetic outside tfjs kernels: the accuracy count read from the logits must give
// exactly what tfjs's argMax / equal / sum would, on both built-in backends.
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { activateBackend } from '../../workers/backend.js';
import { correctCount, disposeModel, initModel, trainStep } from '../../workers/model.js';
import { smallConfig } from './fixture.js';

/** What the trainer counted with before: argMax, equal, cast and sum in tfjs kernels. */
function kernelCount(logits: tf.Tensor2D, labels: Int32Array): number {
  return tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.tensor1d(labels, 'int32')), 'float32')).dataSync()[0]!);
}

/** A small seeded generator (mulberry32): the same cases on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('workers/model', function () {
  this.timeout(60_000);
  after(() => activateBackend('cpu'));

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`counts correct rows exactly as tfjs's argMax kernels do, ties, NaN and infinities included (${backend})`, async () => {
      await activateBackend(backend);
      const next = random(13);
      const special = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0, 1, 1];
      for (let c = 0; c < 200; c++) {
        const rows = 1 + Math.floor(next() * 20);
        const classes = 2 + Math.floor(next() * 4);
        // Few distinct values, so ties are common; some cases draw the special values.
        const values = Float32Array.from({ length: rows * classes }, () =>
          c % 4 === 0 ? special[Math.floor(next() * special.length)]! : Math.floor(next() * 4) - 2 + (c % 2 ? next() : 0),
        );
        const labels = Int32Array.from({ length: rows }, () => Math.floor(next() * classes));
        const logits = tf.tensor2d(values, [rows, classes]);
        try {
          assert.equal(correctCount(logits, labels), kernelCount(logits, labels), `case ${c}: [${values.join(', ')}] labels [${labels.join(', ')}]`);
        } finally {
          logits.dispose();
        }
      }
    });
  }

  it('leaves no tensor behind: building, measuring and stepping a model and disposing it', async () => {
    await activateBackend('cpu');
    const config = smallConfig();
    const before = tf.memory().numTensors;
    const state = initModel(config, 4, 3);
    const x = tf.zeros([16, 4]) as tf.Tensor2D;
    const labels = Int32Array.from({ length: 16 }, (_, i) => i % 3);
    const labelTensor = tf.tensor1d(labels, 'int32');
    const y = tf.oneHot(labelTensor, 3) as tf.Tensor2D;
    const inputs = tf.memory().numTensors;
    trainStep(state, config, x, y);
    const measured = trainStep(state, config, x, y, labels);
    assert.ok(measured && Number.isFinite(measured.loss) && measured.accuracy >= 0 && measured.accuracy <= 1);
    assert.equal(tf.memory().numTensors, inputs, 'a step, measured or not, keeps no tensor');
    tf.dispose([x, labelTensor, y]);
    disposeModel(state);
    assert.equal(tf.memory().numTensors, before, "the model's initial values are not left behind");
  });
});
