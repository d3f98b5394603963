import assert from 'node:assert/strict';
import { hashKey, PersistentMap } from '../../projections/persistent-map.js';
import { seededRandom } from '../../src/gates/statistics.js';
import { canonicalize } from '../../src/integrity/canonical.js';

// Two pairs of keys with equal 32-bit FNV-1a hashes (found by search): they share a collision node.
const COLLIDING = [
  ['k32728', 'k261234'],
  ['k32729', 'k261235'],
] as const;

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const random = seededRandom(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('projections/persistent-map', () => {
  it('the collision fixtures really collide (otherwise the collision tests test nothing)', () => {
    for (const [a, b] of COLLIDING) assert.equal(hashKey(a), hashKey(b));
    assert.notEqual(hashKey('k32728'), hashKey('k32729'));
  });

  it('leaves every earlier version unchanged when a key is set', () => {
    const v0 = PersistentMap.empty<number>();
    const v1 = v0.set('a', 1);
    const v2 = v1.set('b', 2);
    const v3 = v2.set('a', 10);
    assert.deepEqual([v0.size, v1.size, v2.size, v3.size], [0, 1, 2, 2]);
    assert.equal(v0.get('a'), undefined);
    assert.equal(v1.get('a'), 1);
    assert.equal(v1.get('b'), undefined);
    assert.equal(v2.get('a'), 1);
    assert.equal(v3.get('a'), 10);
    assert.deepEqual(v2.toJSON(), { a: 1, b: 2 });
    assert.equal(v3.set('a', 10), v3, 'setting the same value returns the same map');
  });

  it('agrees with a plain object under 20,000 random sets, colliding keys included, at every version kept', () => {
    const random = seededRandom(42);
    const keys = [...Array.from({ length: 3000 }, (_, i) => `run-${i}`), ...COLLIDING.flat(), '__proto__', 'constructor', ''];
    let map = PersistentMap.empty<number>();
    const model = new Map<string, number>();
    const modelJson = (): Record<string, number> => Object.fromEntries(model);
    const versions: { map: PersistentMap<number>; json: string }[] = [];
    for (let i = 0; i < 20_000; i++) {
      const key = keys[Math.floor(random() * keys.length)]!;
      map = map.set(key, i);
      model.set(key, i);
      if (i % 2500 === 0) versions.push({ map, json: canonicalize(modelJson()) });
    }
    assert.equal(map.size, model.size);
    for (const key of keys) assert.equal(map.get(key), model.get(key), key);
    assert.equal(map.get('missing'), undefined);
    assert.equal(canonicalize(map.toJSON()), canonicalize(modelJson()));
    assert.deepEqual(Object.keys(map.toJSON()), [...model.keys()].sort(), 'members in UTF-16 code-unit order');
    assert.ok(Object.hasOwn(map.toJSON(), '__proto__'), '__proto__ is an own member, as JSON.parse makes it');
    for (const v of versions) assert.equal(canonicalize(v.map.toJSON()), v.json, 'an old version still holds what it held');
  });

  it('iterates in an order fixed by the key set, whatever the insertion order', () => {
    const keys = [...Array.from({ length: 500 }, (_, i) => `c${i}-r${i % 7}`), ...COLLIDING.flat()];
    const build = (order: string[]): PersistentMap<string> => order.reduce((m, k) => m.set(k, k.toUpperCase()), PersistentMap.empty<string>());
    const a = build(shuffled(keys, 1));
    const b = build(shuffled(keys, 2));
    assert.notDeepEqual(shuffled(keys, 1), shuffled(keys, 2));
    assert.deepEqual([...a.entries()], [...b.entries()]);
    assert.deepEqual(a.sortedKeys(), [...keys].sort());
    assert.deepEqual([...a.values()].sort(), keys.map((k) => k.toUpperCase()).sort());
  });

  it('keeps colliding keys apart and round-trips through its JSON form', () => {
    const [x, y] = COLLIDING[0];
    const map = PersistentMap.empty<string>().set(y, 'second').set(x, 'first').set(y, 'again');
    assert.equal(map.size, 2);
    assert.equal(map.get(x), 'first');
    assert.equal(map.get(y), 'again');
    assert.equal(map.has('k0'), false);
    const back = PersistentMap.fromObject(JSON.parse(JSON.stringify(map)) as Record<string, string>);
    assert.deepEqual(back.toJSON(), map.toJSON());
    assert.deepEqual([...back.entries()], [...map.entries()]);
  });
});
