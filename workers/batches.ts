// The batch iterator of the training loop: one epoch's rows, in the epoch's seeded order, gathered
// into ONE pair of batch-sized buffers allocated per epoch and refilled for every batch. The dataset
// is never copied (no permuted copy of the split, no per-batch arrays): an epoch allocates one batch.
// A yielded batch is valid until the next is requested — the trainer disposes its tensors first.

export interface Batch {
  /** Row-major features of `rows` rows (a view of the shared buffer). */
  x: Float32Array;
  /** Class indices of the same rows (a view of the shared buffer). */
  y: Int32Array;
  rows: number;
  /** Index of this batch within the epoch. */
  index: number;
}

/** The batches of one epoch over `x` (row-major, `featureCount` wide) and `y`, visiting rows in `order`. */
export function* epochBatches(x: Float32Array, y: Int32Array, featureCount: number, order: ArrayLike<number>, batchSize: number): Generator<Batch> {
  const f = featureCount;
  const size = Math.min(batchSize, order.length);
  const xBuffer = new Float32Array(size * f);
  const yBuffer = new Int32Array(size);
  for (let start = 0, index = 0; start < order.length; start += batchSize, index++) {
    const rows = Math.min(batchSize, order.length - start);
    for (let i = 0; i < rows; i++) {
      const r = order[start + i]!;
      // An element loop, not x.subarray(…) + set(): a view object per row cost 4× the copy itself (bench kernels).
      for (let k = 0, from = r * f, to = i * f; k < f; k++) xBuffer[to + k] = x[from + k]!;
      yBuffer[i] = y[r]!;
    }
    yield { x: rows === size ? xBuffer : xBuffer.subarray(0, rows * f), y: rows === size ? yBuffer : yBuffer.subarray(0, rows), rows, index };
  }
}
