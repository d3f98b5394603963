import assert from 'node:assert/strict';
import { deriveSeed, mulberry32, seededPermutation } from '../../workers/seeds.js';

describe('workers/seeds', () => {
  it('derives the same non-zero 32-bit seed for the same base and purpose', () => {
    const a = deriveSeed(42, 'init', 0);
    assert.equal(a, deriveSeed(42, 'init', 0));
    assert.ok(a > 0 && a <= 0xffffffff);
  });

  it('derives different seeds for different purposes and bases', () => {
    assert.notEqual(deriveSeed(42, 'init', 0), deriveSeed(42, 'init', 1));
    assert.notEqual(deriveSeed(42, 'epoch', 1), deriveSeed(43, 'epoch', 1));
  });

  it('mulberry32 yields the same stream for a seed and values in [0, 1)', () => {
    const a = mulberry32(123);
    const b = mulberry32(123);
    for (let i = 0; i < 100; i++) {
      const v = a();
      assert.equal(v, b());
      assert.ok(v >= 0 && v < 1);
    }
  });

  it('seededPermutation is a permutation, reproducible, and changes with the seed', () => {
    const p = seededPermutation(150, 9);
    assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 150 }, (_, i) => i));
    assert.deepEqual(seededPermutation(150, 9), p);
    assert.notDeepEqual(seededPermutation(150, 10), p);
  });
});
