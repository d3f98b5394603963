// Deterministic randomness for training: every seed a run uses is derived from the plan seed by
// name, so a stage can be re-executed (or resumed mid-run) without replaying earlier draws.
import { canonicalize } from '../src/integrity/canonical.js';
import { sha256 } from '../src/integrity/hasher.js';
import { mulberry32 } from '../src/prng.js';

export { mulberry32 };

/**
 * A non-zero 32-bit seed for `purpose`: the first 4 bytes (big-endian) of
 * SHA-256(JCS([base, ...purpose])). Zero maps to 1 because tfjs treats a seed of 0 as "unseeded".
 */
export function deriveSeed(base: number, ...purpose: (string | number)[]): number {
  const value = sha256(canonicalize([base, ...purpose])).readUInt32BE(0);
  return value === 0 ? 1 : value;
}


/** Fisher–Yates (Knuth, TAOCP vol. 2, Algorithm P) over [0, n) driven by mulberry32(seed). */
export function seededPermutation(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  const random = mulberry32(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}
