// The one seeded PRNG runledger uses where results must be reproducible from the ledger
// (training data order, bootstrap resampling). Never Math.random.

/** mulberry32: a 32-bit state PRNG, uniform on [0, 1), full 2^32 period, identical on every platform. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
