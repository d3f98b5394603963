// The compact range [0, size) of an RFC 9162 tree: one hash per set bit of `size`, the roots of
// the perfect subtrees the range decomposes into, largest (leftmost) first. This is the O(log n)
// state a log persists so it can extend the tree and compute its root without rereading leaves
// (the design of transparency-dev/merkle's `compact` package, restricted to ranges starting at 0).
import { EMPTY_ROOT, HASH_SIZE, nodeHashPacked, nodeHashPairsInPlace, packHash, pairInputs, unpackHash, type PackedHash } from './hasher.js';

export class CompactRangeError extends Error {}

/** Leaves arriving in bulk are folded in perfect subtrees of 2^BULK_HEIGHT leaves, level by level. */
const BULK_HEIGHT = 12;
const BULK_LEAVES = 2 ** BULK_HEIGHT;

/** The scratch buffer of one bulk append: leaf hashes from byte 1, and its pair views. */
interface BulkScratch {
  bytes: Buffer;
  inputs: Buffer[];
}

/** Root of the perfect subtree over `width` (a power of two, > 1) leaf hashes in the scratch buffer. */
function perfectSubtreeRoot({ bytes: scratch, inputs }: BulkScratch, width: number): PackedHash {
  for (;;) {
    const level = nodeHashPairsInPlace(inputs, width / 2);
    width /= 2;
    if (width === 1) return level[0]!;
    // One copy per level instead of one per node: the next level's hashes, back to back.
    scratch.write(level.join(''), 1, 'latin1');
  }
}

function checkLeaf(leafHash: Uint8Array): void {
  if (leafHash.length !== HASH_SIZE) throw new CompactRangeError(`leaf hash is ${leafHash.length} bytes, expected ${HASH_SIZE}`);
}

/** Whether [begin, begin + width) is a node of the tree: width a power of two, begin a multiple of it. */
export function isPerfectAt(begin: number, width: number): boolean {
  if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(width) || begin < 0 || width < 1) return false;
  let w = width;
  while (w % 2 === 0) w /= 2;
  return w === 1 && begin % width === 0;
}

/** Number of set bits of a non-negative safe integer (sizes may exceed 2^32). */
function popcount(n: number): number {
  let count = 0;
  while (n > 0) {
    count += n % 2;
    n = Math.floor(n / 2);
  }
  return count;
}

/** A perfect subtree [end - width, end) whose hash is wanted when an append completes it. */
interface WatchedNode {
  end: number;
  width: number;
  /** Position in the array `watch` returned. */
  slot: number;
}

export class CompactRange {
  // Hashes are kept packed (latin1 strings): immutable, cheap to copy, no Buffer per node.
  private constructor(
    private count: number,
    private readonly stack: PackedHash[],
  ) {}

  /** Watched nodes by end, ascending; the next one to complete is watched[watchAt]. */
  private watched: WatchedNode[] = [];
  private watchAt = 0;
  /** watched[watchAt].end, or -1: one comparison per append while nothing is due. */
  private nextWatchEnd = -1;
  private captured: (PackedHash | undefined)[] = [];

  static empty(): CompactRange {
    return new CompactRange(0, []);
  }

  /** Restores persisted state; rejects a hash list that cannot belong to a range of `size` leaves. */
  static fromState(size: number, hashes: Buffer[]): CompactRange {
    if (!Number.isSafeInteger(size) || size < 0) throw new CompactRangeError(`tree size ${size} is not a non-negative integer`);
    const expected = popcount(size);
    if (hashes.length !== expected) {
      throw new CompactRangeError(`a compact range of size ${size} has ${expected} hashes, got ${hashes.length}`);
    }
    hashes.forEach((hash, i) => {
      if (hash.length !== HASH_SIZE) throw new CompactRangeError(`compact range hash ${i} is ${hash.length} bytes, expected ${HASH_SIZE}`);
    });
    return new CompactRange(size, hashes.map(packHash));
  }

  get size(): number {
    return this.count;
  }

  /** Adds leaf `size`. Each trailing 1 bit of the old size is a perfect subtree the new leaf completes. */
  append(leafHash: Buffer): void {
    checkLeaf(leafHash);
    if (this.count + 1 === this.nextWatchEnd) return this.appendCapturing(packHash(leafHash));
    // RFC 9162 §2.1.1: a completed pair of equal-height subtrees becomes one node, left ‖ right.
    if (this.count % 2 === 0) this.stack.push(packHash(leafHash));
    else this.carry(nodeHashPacked(this.stack.pop()!, leafHash));
    this.count += 1;
  }

  /** `append` for a packed leaf hash (the verifier's form: no Buffer per leaf). */
  appendPacked(leaf: PackedHash): void {
    if (leaf.length !== HASH_SIZE) throw new CompactRangeError(`packed leaf hash is ${leaf.length} characters, expected ${HASH_SIZE}`);
    if (this.count + 1 === this.nextWatchEnd) return this.appendCapturing(leaf);
    if (this.count % 2 === 0) this.stack.push(leaf);
    else this.carry(nodeHashPacked(this.stack.pop()!, leaf));
    this.count += 1;
  }

  /**
   * Captures the hashes of these perfect subtrees (width a power of two, begin a multiple of it,
   * begin >= size) as `appendPacked` completes them: the nodes the tree computes anyway, so a
   * consistency proof needs no second tree over the same leaves. Replaces an earlier watch. Returns
   * the array the hashes land in, by position in `nodes` (undefined until completed).
   */
  watch(nodes: readonly { begin: number; end: number }[]): (PackedHash | undefined)[] {
    const watched = nodes.map(({ begin, end }, slot) => {
      const width = end - begin;
      if (!isPerfectAt(begin, width) || begin < this.count) throw new CompactRangeError(`[${begin}, ${end}) is not a perfect subtree at or after leaf ${this.count}`);
      return { end, width, slot };
    });
    // Ends ascending; at one end, narrower first (the order an append completes them in).
    watched.sort((a, b) => a.end - b.end || a.width - b.width);
    this.watched = watched;
    this.watchAt = 0;
    this.nextWatchEnd = watched[0]?.end ?? -1;
    this.captured = new Array<PackedHash | undefined>(nodes.length);
    return this.captured;
  }

  /** The perfect subtree [begin, end) when it is one of the range's own hashes, else undefined. */
  entry(begin: number, end: number): PackedHash | undefined {
    let at = 0;
    let remaining = this.count;
    for (const hash of this.stack) {
      let width = 1;
      while (width * 2 <= remaining) width *= 2;
      if (at === begin) return at + width === end ? hash : undefined;
      at += width;
      remaining -= width;
    }
    return undefined;
  }

  /** `appendPacked` of the leaf that completes a watched node: the same merges, recording each node as it forms. */
  private appendCapturing(leaf: PackedHash): void {
    // A leaf is a perfect subtree of width 1.
    this.pushSubtreeCapturing(leaf, 1);
  }

  private capture(end: number, width: number, hash: PackedHash): void {
    for (let k = this.watchAt; k < this.watched.length && this.watched[k]!.end === end; k++) {
      if (this.watched[k]!.width === width) this.captured[this.watched[k]!.slot] = hash;
    }
  }

  /** Pushes `hash`, the node over the last leaf and its left sibling, merging up the remaining trailing 1 bits of the size. */
  private carry(hash: PackedHash): void {
    let n = (this.count - 1) / 2;
    while (n % 2 === 1) {
      hash = nodeHashPacked(this.stack.pop()!, hash);
      n = (n - 1) / 2;
    }
    this.stack.push(hash);
  }

  /**
   * Appends leaves in order, as `append` would, but hashes each aligned run of 2^12 leaves as one
   * perfect subtree in a reused scratch buffer (no Buffer per node). Memory stays O(log n) plus
   * the fixed scratch (128 KiB).
   */
  appendAll(leaves: Iterable<Buffer>): void {
    let scratch: BulkScratch | undefined;
    let filled = 0;
    const flushSingly = (): void => {
      for (let i = 0; i < filled; i++) this.append(scratch!.bytes.subarray(1 + i * HASH_SIZE, 1 + (i + 1) * HASH_SIZE));
      filled = 0;
    };
    for (const leaf of leaves) {
      // A perfect subtree can only start at a multiple of its width (RFC 9162 §2.1.1 split points);
      // while nodes are watched, leaf by leaf, so every watched node is seen forming.
      if (filled === 0 && (this.count % BULK_LEAVES !== 0 || this.nextWatchEnd !== -1)) {
        this.append(leaf);
        continue;
      }
      if (leaf.length !== HASH_SIZE) {
        flushSingly(); // the leaves before the bad one are appended, as with `append`
        checkLeaf(leaf);
      }
      if (scratch === undefined) {
        const bytes = Buffer.allocUnsafe(1 + BULK_LEAVES * HASH_SIZE);
        scratch = { bytes, inputs: pairInputs(bytes, BULK_LEAVES / 2) };
      }
      scratch.bytes.set(leaf, 1 + filled * HASH_SIZE);
      if (++filled === BULK_LEAVES) {
        this.pushSubtree(perfectSubtreeRoot(scratch, BULK_LEAVES), BULK_LEAVES);
        filled = 0;
      }
    }
    flushSingly();
  }

  /**
   * Appends leaf hashes in order, as `append` of each in turn would: the range they extend splits
   * into aligned perfect subtrees (`alignedBlocks`), each hashed level by level in place
   * (`subtreeRoot`) and added with `appendSubtree` — the same node hashes, without a packed string
   * per leaf and a copy per node (an append's batch). A leaf that is not 32 bytes: nothing is appended.
   */
  appendLeaves(leaves: readonly Uint8Array[]): void {
    for (const leaf of leaves) checkLeaf(leaf);
    // While nodes are watched, leaf by leaf, so every watched node is seen forming.
    if (this.nextWatchEnd !== -1) {
      for (const leaf of leaves) this.appendPacked(packHash(leaf));
      return;
    }
    for (let from = 0; from < leaves.length; from += BULK_LEAVES) {
      const count = Math.min(BULK_LEAVES, leaves.length - from);
      leafScratch ??= Buffer.allocUnsafe(BULK_LEAVES * HASH_SIZE);
      for (let k = 0; k < count; k++) leafScratch.set(leaves[from + k]!, k * HASH_SIZE);
      let at = 0;
      for (const width of alignedBlocks(this.count, this.count + count)) {
        this.appendSubtree(subtreeRoot(leafScratch, at * HASH_SIZE, width), width);
        at += width;
      }
    }
  }

  /**
   * Adds the root of the perfect subtree of the next `width` leaves (hashed elsewhere: a worker
   * thread), as appending them one by one would; `size` must be a multiple of `width`. Watched
   * nodes it completes are captured, as by `appendPacked`.
   */
  appendSubtree(root: PackedHash, width: number): void {
    if (root.length !== HASH_SIZE) throw new CompactRangeError(`packed subtree root is ${root.length} characters, expected ${HASH_SIZE}`);
    if (!isPerfectAt(this.count, width)) throw new CompactRangeError(`a subtree of ${width} leaves cannot start at leaf ${this.count}`);
    if (width === 1) return this.appendPacked(root);
    if (this.nextWatchEnd !== -1 && this.nextWatchEnd <= this.count + width) return this.pushSubtreeCapturing(root, width);
    this.pushSubtree(root, width);
  }

  private pushSubtreeCapturing(root: PackedHash, width: number): void {
    const end = this.count + width;
    let hash = root;
    let w = width;
    this.capture(end, w, hash);
    for (let n = this.count / width; n % 2 === 1; n = (n - 1) / 2) {
      hash = nodeHashPacked(this.stack.pop()!, hash);
      w *= 2;
      this.capture(end, w, hash);
    }
    this.stack.push(hash);
    this.count = end;
    while (this.watched[this.watchAt] !== undefined && this.watched[this.watchAt]!.end <= end) this.watchAt++;
    this.nextWatchEnd = this.watched[this.watchAt]?.end ?? -1;
  }

  /** Adds the root of a perfect subtree of `width` leaves; `size` must be a multiple of `width`. */
  private pushSubtree(root: PackedHash, width: number): void {
    let hash = root;
    let n = this.count / width;
    while (n % 2 === 1) {
      hash = nodeHashPacked(this.stack.pop()!, hash);
      n = (n - 1) / 2;
    }
    this.stack.push(hash);
    this.count += width;
  }

  /** The persisted state, left to right (largest subtree first). */
  hashes(): Buffer[] {
    return this.stack.map(unpackHash);
  }

  /** RFC 9162 §2.1.1 MTH of [0, size): fold the subtree roots right to left. */
  root(): Buffer {
    const last = this.stack.length - 1;
    if (last < 0) return Buffer.from(EMPTY_ROOT);
    let root = this.stack[last]!;
    for (let i = last - 1; i >= 0; i--) root = nodeHashPacked(this.stack[i]!, root);
    return unpackHash(root);
  }

  clone(): CompactRange {
    return new CompactRange(this.count, this.stack.slice());
  }
}

/**
 * The widths of the perfect subtrees [begin, end) splits into, left to right: at each point the
 * largest power of two it is a multiple of that still fits. Any range splits so, in O(log n) parts,
 * and each part can be appended to a compact range at that point (`appendSubtree`).
 */
export function alignedBlocks(begin: number, end: number): number[] {
  const widths: number[] = [];
  for (let at = begin; at < end; ) {
    let width = 1;
    while ((at === 0 || at % (width * 2) === 0) && at + width * 2 <= end) width *= 2;
    widths.push(width);
    at += width;
  }
  return widths;
}

/** The leaves of one `appendLeaves` run (up to BULK_LEAVES), back to back. */
let leafScratch: Buffer | undefined;

/** Scratch of `subtreeRoot`, grown to the widest subtree asked for. */
let blockScratch: BulkScratch | undefined;

/**
 * MTH of the `width` (a power of two) leaf hashes stored back to back in `leaves` from byte `at`,
 * packed: a worker's part of the tree, hashed level by level in a reused buffer (no Buffer per node).
 */
export function subtreeRoot(leaves: Uint8Array, at: number, width: number): PackedHash {
  if (width === 1) return Buffer.from(leaves.buffer, leaves.byteOffset + at, HASH_SIZE).toString('latin1');
  if (blockScratch === undefined || blockScratch.inputs.length < width / 2) {
    const bytes = Buffer.allocUnsafe(1 + width * HASH_SIZE);
    blockScratch = { bytes, inputs: pairInputs(bytes, width / 2) };
  }
  blockScratch.bytes.set(leaves.subarray(at, at + width * HASH_SIZE), 1);
  return perfectSubtreeRoot(blockScratch, width);
}

/** MTH of a sequence of leaf hashes, streamed: O(log n) memory whatever the length. */
export function rootOfLeaves(leaves: Iterable<Buffer>): Buffer {
  const range = CompactRange.empty();
  range.appendAll(leaves);
  return range.root();
}
