// The MLP and its training step, written as a manual loop over tfjs ops so that every source of
// nondeterminism is ours to control: seeded initializers, our own batch order, our own optimizer
// arithmetic (bias corrections computed from the step number, so a resumed run continues exactly).
import * as tf from '@tensorflow/tfjs';
import type { Activation, TrainingConfig } from '../events/training-config.js';
import { deriveSeed } from './seeds.js';

export interface NamedValues {
  name: string;
  shape: number[];
  values: Float32Array;
}

export interface ModelState {
  /** [kernel0, bias0, kernel1, bias1, …, kernelOut, biasOut] */
  params: tf.Variable[];
  paramNames: string[];
  /** Adam moments, in param order: m for every param, then v for every param. Empty for SGD. */
  slots: tf.Variable[];
  /** Optimizer steps taken so far (Adam's t). */
  step: number;
  /** Epochs completed. */
  epoch: number;
}

// Kingma & Ba 2015, Algorithm 1 defaults.
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-8;

/** Layer widths from input to output. */
export function layerSizes(config: TrainingConfig, featureCount: number, classCount: number): number[] {
  return [featureCount, ...config.model.hidden, classCount];
}

/** Fresh parameters: Glorot-uniform kernels, each with its own non-zero seed derived from the plan seed; zero biases. */
export function initModel(config: TrainingConfig, featureCount: number, classCount: number): ModelState {
  const sizes = layerSizes(config, featureCount, classCount);
  const params: tf.Variable[] = [];
  const paramNames: string[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const shape = [sizes[i]!, sizes[i + 1]!];
    const kernel = tf.tidy(() => tf.initializers.glorotUniform({ seed: deriveSeed(config.seed, 'init', i) }).apply(shape, 'float32'));
    params.push(tf.variable(kernel, true));
    kernel.dispose();
    // A tidy disposes each variable's initial tensor (variables themselves outlive it).
    params.push(tf.tidy(() => tf.variable(tf.zeros([sizes[i + 1]!]), true)));
    paramNames.push(`layer${i}.kernel`, `layer${i}.bias`);
  }
  const slots =
    config.optimizer === 'adam'
      ? [...params, ...params].map((p) => tf.tidy(() => tf.variable(tf.zerosLike(p), false)))
      : [];
  return { params, paramNames, slots, step: 0, epoch: 0 };
}

export function disposeModel(state: ModelState): void {
  for (const v of [...state.params, ...state.slots]) v.dispose();
}

/** Every tensor a checkpoint must hold to continue training bit for bit, in a fixed order. */
export function stateTensors(state: ModelState): NamedValues[] {
  const slotNames = state.slots.length
    ? [...state.paramNames.map((n) => `adam.m.${n}`), ...state.paramNames.map((n) => `adam.v.${n}`)]
    : [];
  return [...state.params, ...state.slots].map((v, i) => ({
    name: i < state.params.length ? state.paramNames[i]! : slotNames[i - state.params.length]!,
    shape: v.shape.slice(),
    values: Float32Array.from(v.dataSync() as Float32Array),
  }));
}

/** One value of one state tensor (a name from `stateTensors`), e.g. to perturb it. */
export interface Perturbation {
  epoch: number;
  tensor: string;
  index: number;
}

/** Flips the lowest mantissa bit of one value of a state tensor: the smallest change a float32 can show. */
export function flipLowestBit(state: ModelState, tensor: string, index: number): void {
  const named = stateTensors(state);
  const i = named.findIndex((t) => t.name === tensor);
  const target = named[i];
  if (!target || !Number.isInteger(index) || index < 0 || index >= target.values.length) {
    throw new Error(`no value ${index} in state tensor "${tensor}" (tensors: ${named.map((t) => `${t.name}[${t.values.length}]`).join(', ')})`);
  }
  const bits = new Uint32Array(target.values.buffer, target.values.byteOffset, target.values.length);
  bits[index] = bits[index]! ^ 1;
  const variable = [...state.params, ...state.slots][i]!;
  tf.tidy(() => variable.assign(tf.tensor(target.values, target.shape, 'float32')));
}

/** Restores tensors written by `stateTensors` into a model of the same architecture. */
export function restoreTensors(state: ModelState, tensors: NamedValues[], step: number, epoch: number): void {
  const targets = [...state.params, ...state.slots];
  if (tensors.length !== targets.length) {
    throw new Error(`checkpoint holds ${tensors.length} tensors, the plan's model needs ${targets.length}`);
  }
  targets.forEach((v, i) => {
    const t = tensors[i]!;
    if (t.shape.join('x') !== v.shape.join('x')) {
      throw new Error(`checkpoint tensor ${t.name} has shape [${t.shape.join(', ')}], the plan's model needs [${v.shape.join(', ')}]`);
    }
    tf.tidy(() => v.assign(tf.tensor(t.values, t.shape, 'float32')));
  });
  state.step = step;
  state.epoch = epoch;
}

function activate(x: tf.Tensor, activation: Activation): tf.Tensor {
  switch (activation) {
    case 'relu':
      return tf.relu(x);
    case 'tanh':
      return tf.tanh(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'elu':
      return tf.elu(x);
  }
}

/** Logits for a batch. */
export function forward(state: ModelState, x: tf.Tensor2D, activation: Activation): tf.Tensor2D {
  return tf.tidy(() => {
    let h: tf.Tensor = x;
    const layers = state.params.length / 2;
    for (let i = 0; i < layers; i++) {
      h = tf.add(tf.matMul(h as tf.Tensor2D, state.params[2 * i]! as tf.Tensor2D), state.params[2 * i + 1]!);
      if (i + 1 < layers) h = activate(h, activation);
    }
    return h as tf.Tensor2D;
  });
}

/**
 * One optimizer step on a batch. With `labels` (the batch's class indices), returns the batch's loss
 * and accuracy before the update — from the logits of the step's own forward pass, so measuring
 * costs no second forward pass; reading them is two reads of computed values (the loss and the
 * logits, counted in JS), so it is only done on telemetry steps.
 */
export function trainStep(
  state: ModelState,
  config: TrainingConfig,
  x: tf.Tensor2D,
  y: tf.Tensor2D,
  labels?: Int32Array,
): { loss: number; accuracy: number } | null {
  let measured: { loss: number; accuracy: number } | null = null;
  tf.tidy(() => {
    let logits: tf.Tensor2D | undefined;
    const { value, grads } = tf.variableGrads(() => {
      // Kept past the gradient's own scope, to be read below (a kept tensor outlives every tidy: disposed there).
      logits = labels ? tf.keep(forward(state, x, config.model.activation)) : forward(state, x, config.model.activation);
      return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
    }, state.params);
    if (labels && logits) {
      try {
        measured = { loss: value.dataSync()[0]!, accuracy: correctCount(logits, labels) / labels.length };
      } finally {
        logits.dispose();
      }
    }
    const t = state.step + 1;
    if (config.optimizer === 'sgd') {
      const lr = tf.scalar(config.learningRate);
      state.params.forEach((p) => p.assign(tf.sub(p, tf.mul(lr, grads[p.name]!))));
    } else {
      const n = state.params.length;
      state.params.forEach((p, i) => adamUpdate(p, grads[p.name]!, state.slots[i]!, state.slots[n + i]!, t, config.learningRate));
    }
  });
  state.step += 1;
  return measured;
}

/**
 * How many rows' largest logit is their label. Read and counted in JS rather than with four more
 * kernels (argMax, equal, cast, sum): the same answer — the first largest index wins and a NaN never
 * compares greater, as in the cpu and wasm argMax kernels — and an exact integer count.
 */
export function correctCount(logits: tf.Tensor2D, labels: Int32Array): number {
  const values = logits.dataSync();
  const classes = logits.shape[1];
  let correct = 0;
  for (let row = 0; row < labels.length; row++) {
    const offset = row * classes;
    let max = values[offset]!;
    let best = 0;
    for (let j = 1; j < classes; j++) {
      const value = values[offset + j]!;
      if (value > max) {
        max = value;
        best = j;
      }
    }
    if (best === labels[row]) correct++;
  }
  return correct;
}

/**
 * Adam's update of one parameter from its gradient, at step `t` (1-based), in place; call inside
 * tf.tidy. Kingma & Ba 2015 §2: α_t = α·√(1−β2^t)/(1−β1^t), θ ← θ − α_t·m/(√v + ε̂), α_t in float64 from t.
 */
export function adamUpdate(p: tf.Variable, g: tf.Tensor, m: tf.Variable, v: tf.Variable, t: number, learningRate: number): void {
  const alphaT = tf.scalar((learningRate * Math.sqrt(1 - BETA2 ** t)) / (1 - BETA1 ** t));
  m.assign(tf.add(tf.mul(tf.scalar(BETA1), m), tf.mul(tf.scalar(1 - BETA1), g)));
  v.assign(tf.add(tf.mul(tf.scalar(BETA2), v), tf.mul(tf.scalar(1 - BETA2), tf.square(g))));
  p.assign(tf.sub(p, tf.div(tf.mul(alphaT, m), tf.add(tf.sqrt(v), tf.scalar(EPSILON)))));
}

export const ADAM = { beta1: BETA1, beta2: BETA2, epsilon: EPSILON } as const;

/** Mean cross-entropy and accuracy over a whole split. */
export function evaluate(
  state: ModelState,
  activation: Activation,
  x: Float32Array,
  y: Int32Array,
  featureCount: number,
  classCount: number,
): { loss: number; accuracy: number } {
  if (y.length === 0) return { loss: 0, accuracy: 0 };
  return tf.tidy(() => {
    const xs = tf.tensor2d(x, [y.length, featureCount]);
    const labels = tf.tensor1d(y, 'int32');
    const logits = forward(state, xs, activation);
    const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, classCount), logits).dataSync()[0]!;
    return { loss, accuracy: correctCount(logits, y) / y.length };
  });
}
