// A persistent string-keyed map for projection state: a hash array mapped trie (Bagwell, "Ideal
// Hash Trees", 2001) with 32-way bitmap-indexed branches. `set` copies only the path to one key, at
// most 7 small nodes, so an update costs O(log32 n) whatever the map holds, and every earlier
// version stays valid and unchanged: reducers stay pure while an event no longer copies every run.
//
// The JSON form (`toJSON`) is a plain object with keys in UTF-16 code-unit order, i.e. exactly the
// object the map replaces, so digests (RFC 8785 sorts members anyway) and snapshots do not change.
// Iteration order depends only on the set of keys (hash order, ties sorted), never on the order of
// insertion, so nothing derived from a map can depend on the arrival order of events.

interface Leaf<V> {
  readonly kind: 0;
  readonly hash: number;
  readonly key: string;
  readonly value: V;
}

interface Branch<V> {
  readonly kind: 1;
  /** Bit i set when the child for 5-bit chunk value i exists; children are in chunk order. */
  readonly bitmap: number;
  readonly children: readonly TrieNode<V>[];
}

/** Keys whose 32-bit hashes are equal: kept sorted so iteration never depends on insertion order. */
interface Collision<V> {
  readonly kind: 2;
  readonly hash: number;
  readonly keys: readonly string[];
  readonly values: readonly V[];
}

type TrieNode<V> = Leaf<V> | Branch<V> | Collision<V>;

const BITS = 5;
const MASK = (1 << BITS) - 1;

/** FNV-1a over UTF-16 code units: deterministic across processes (no per-process seed); exported for tests. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A branch holding two nodes whose hashes differ (they must differ in some chunk at or below `shift`). */
function join<V>(a: Leaf<V> | Collision<V>, b: Leaf<V>, shift: number): Branch<V> {
  const ia = (a.hash >>> shift) & MASK;
  const ib = (b.hash >>> shift) & MASK;
  if (ia === ib) return { kind: 1, bitmap: 1 << ia, children: [join(a, b, shift + BITS)] };
  return { kind: 1, bitmap: (1 << ia) | (1 << ib), children: ia < ib ? [a, b] : [b, a] };
}

/** Set by `insert`: whether the key was new (the map's size grows). */
let added = false;

function insert<V>(node: TrieNode<V> | undefined, hash: number, key: string, value: V, shift: number): TrieNode<V> {
  if (node === undefined) {
    added = true;
    return { kind: 0, hash, key, value };
  }
  switch (node.kind) {
    case 0: {
      if (node.key === key) return node.value === value ? node : { kind: 0, hash, key, value };
      added = true;
      const leaf: Leaf<V> = { kind: 0, hash, key, value };
      if (node.hash !== hash) return join(node, leaf, shift);
      return node.key < key
        ? { kind: 2, hash, keys: [node.key, key], values: [node.value, value] }
        : { kind: 2, hash, keys: [key, node.key], values: [value, node.value] };
    }
    case 2: {
      if (node.hash !== hash) {
        added = true;
        return join(node, { kind: 0, hash, key, value }, shift);
      }
      const at = node.keys.indexOf(key);
      if (at >= 0) {
        if (node.values[at] === value) return node;
        const values = node.values.slice();
        values[at] = value;
        return { kind: 2, hash, keys: node.keys, values };
      }
      added = true;
      const entries = node.keys.map((k, i): [string, V] => [k, node.values[i]!]);
      entries.push([key, value]);
      entries.sort((x, y) => byCodeUnits(x[0], y[0]));
      return { kind: 2, hash, keys: entries.map((e) => e[0]), values: entries.map((e) => e[1]) };
    }
    default: {
      const bit = 1 << ((hash >>> shift) & MASK);
      const index = popcount(node.bitmap & (bit - 1));
      if ((node.bitmap & bit) === 0) {
        added = true;
        const children = node.children.slice();
        children.splice(index, 0, { kind: 0, hash, key, value });
        return { kind: 1, bitmap: node.bitmap | bit, children };
      }
      const child = node.children[index]!;
      const updated = insert(child, hash, key, value, shift + BITS);
      if (updated === child) return node;
      const children = node.children.slice();
      children[index] = updated;
      return { kind: 1, bitmap: node.bitmap, children };
    }
  }
}

/** Appends every entry to `out`: the non-generator walk that `toJSON` and `sortedKeys` use. */
function collect<V>(node: TrieNode<V> | undefined, out: [string, V][]): void {
  if (node === undefined) return;
  if (node.kind === 0) out.push([node.key, node.value]);
  else if (node.kind === 2) for (let i = 0; i < node.keys.length; i++) out.push([node.keys[i]!, node.values[i]!]);
  else for (const child of node.children) collect(child, out);
}

function* walk<V>(node: TrieNode<V> | undefined): Generator<[string, V]> {
  if (node === undefined) return;
  if (node.kind === 0) yield [node.key, node.value];
  else if (node.kind === 2) for (let i = 0; i < node.keys.length; i++) yield [node.keys[i]!, node.values[i]!];
  else for (const child of node.children) yield* walk(child);
}

export class PersistentMap<V> implements Iterable<[string, V]> {
  private static readonly EMPTY = new PersistentMap<never>(undefined, 0);

  private constructor(
    private readonly root: TrieNode<V> | undefined,
    /** Number of keys. */
    readonly size: number,
  ) {}

  static empty<V>(): PersistentMap<V> {
    return PersistentMap.EMPTY as PersistentMap<V>;
  }

  /** From a plain object's own enumerable members (a snapshot's JSON form). */
  static fromObject<V>(record: Readonly<Record<string, V>>): PersistentMap<V> {
    let map = PersistentMap.empty<V>();
    for (const key of Object.keys(record)) map = map.set(key, record[key]!);
    return map;
  }

  get(key: string): V | undefined {
    const hash = hashKey(key);
    let node = this.root;
    let shift = 0;
    while (node !== undefined) {
      if (node.kind === 0) return node.key === key ? node.value : undefined;
      if (node.kind === 2) {
        const at = node.hash === hash ? node.keys.indexOf(key) : -1;
        return at >= 0 ? node.values[at] : undefined;
      }
      const bit = 1 << ((hash >>> shift) & MASK);
      if ((node.bitmap & bit) === 0) return undefined;
      node = node.children[popcount(node.bitmap & (bit - 1))];
      shift += BITS;
    }
    return undefined;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** A new map with `key` bound to `value`; this one is unchanged. Returns `this` when nothing changes. */
  set(key: string, value: V): PersistentMap<V> {
    added = false;
    const root = insert(this.root, hashKey(key), key, value, 0);
    return root === this.root ? this : new PersistentMap(root, added ? this.size + 1 : this.size);
  }

  /** Entries in an order fixed by the key set alone (not insertion order, not sorted). */
  entries(): IterableIterator<[string, V]> {
    return walk(this.root);
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }

  *keys(): IterableIterator<string> {
    for (const [key] of walk(this.root)) yield key;
  }

  *values(): IterableIterator<V> {
    for (const [, value] of walk(this.root)) yield value;
  }

  /** Keys in UTF-16 code-unit order (RFC 8785 §3.2.3, `Array.prototype.sort`'s default). */
  sortedKeys(): string[] {
    const out: [string, V][] = [];
    collect(this.root, out);
    return out.map((e) => e[0]).sort();
  }

  /**
   * The plain object this map stands for, members in UTF-16 code-unit order. Built with
   * Object.fromEntries, so a key such as `__proto__` is an own member, as JSON.parse makes it.
   */
  toJSON(): Record<string, V> {
    const out: [string, V][] = [];
    collect(this.root, out);
    return Object.fromEntries(out.sort((a, b) => byCodeUnits(a[0], b[0])));
  }
}
