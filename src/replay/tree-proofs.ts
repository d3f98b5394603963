// Inclusion proofs for many leaves of one tree, as replay needs them: every event of a run, or —
// on the dashboard — every event of every run under the same checkpoint. Each perfect subtree is
// hashed from the store's leaf hashes once (or, for the bounded source, once per pass), so all
// proofs together cost O(n) hashing instead of O(n) each, and one proof is then O(log n) lookups.
// Two sources: `TreeProofs` keeps every subtree (64 bytes per leaf, any order: the dashboard's
// many runs); `BoundedTreeProofs` keeps the subtrees above one chunk of the log plus the chunk of
// the leaf asked for (O(√n): a run's events in log order, as replay and export ask for them).
import { HASH_SIZE, nodeHash, nodeHashPairsInPlace, pairInputs } from '../integrity/hasher.js';
import { inclusionRanges } from '../integrity/proof.js';
import type { EventStore } from '../store/port.js';

const LEAF_PAGE = 65_536;

/** Inclusion proofs of leaves of one tree: RFC 9162 §2.1.3.1 PATH(index, D[0:size]). */
export interface ProofSource {
  readonly size: number;
  proof(index: number): Buffer[] | Promise<Buffer[]>;
}

export class TreeProofs implements ProofSource {
  /** Roots of subtrees that reach `size` without being perfect: O(log n) of them. */
  private readonly edges = new Map<string, Buffer>();

  private constructor(
    /** levels[h]: the perfect, aligned subtrees of 2^h leaves, 32 bytes each; levels[0] are the leaf hashes. */
    private readonly levels: Buffer[],
    readonly size: number,
  ) {}

  /**
   * Reads the stored leaf hashes of [0, size) and hashes every perfect subtree once (n - 1 node
   * hashes, 64 bytes of memory per leaf). A leaf the store did not return stays zero, so proofs
   * through it fail against the signed root. Store failures propagate: unavailable is not a failed proof.
   */
  static async read(store: EventStore, size: number): Promise<TreeProofs> {
    const leaves = Buffer.alloc(size * HASH_SIZE);
    for (let from = 0; from < size; from += LEAF_PAGE) {
      const page = await store.leafHashes(from, Math.min(size, from + LEAF_PAGE));
      page.forEach((hex, i) => leaves.write(hex, (from + i) * HASH_SIZE, HASH_SIZE, 'hex'));
    }
    return new TreeProofs(subtreeLevels(leaves), size);
  }

  /** RFC 9162 §2.1.3.1 PATH(index, D[0:size]). */
  proof(index: number): Buffer[] {
    return inclusionRanges(index, this.size).map((r) => this.root(r.begin, r.end));
  }

  /** MTH(D[begin:end]) for a range of the RFC 9162 §2.1.1 recursion over [0, size). */
  private root(begin: number, end: number): Buffer {
    const width = end - begin;
    // The recursion only yields aligned ranges; a power-of-two width is therefore a stored node.
    const height = Math.log2(width);
    if (Number.isInteger(height) && begin % width === 0) return at(this.levels[height]!, begin / width);
    const key = `${begin}:${end}`;
    let root = this.edges.get(key);
    if (root === undefined) {
      let k = 1;
      while (k * 2 < width) k *= 2;
      root = nodeHash(this.root(begin, begin + k), this.root(begin + k, end));
      this.edges.set(key, root);
    }
    return root;
  }
}

/** Leaf hashes per store read of the bounded source's first pass. */
const BOUNDED_LEAF_PAGE = 8_192;

/** Leaves per chunk are 2^height, height at least this and about half of log2(size). */
const MIN_CHUNK_HEIGHT = 10;

/** One chunk of the log: its leaf hashes and the perfect subtrees inside it (`subtreeLevels`). */
interface Chunk {
  index: number;
  levels: Buffer[];
}

/**
 * The same proofs as `TreeProofs`, in O(√n) memory: the roots of every perfect subtree of at least
 * one chunk (2^height leaves, height ≈ log2(n) / 2: 1,024 leaves up to 1 M), the levels of the last,
 * partial chunk, the non-perfect right-edge roots (O(log n)), and the levels of the chunk of the leaf
 * asked for, re-read from the store when the next proof is in another chunk. Every sibling of a
 * leaf's path below chunk height lies in the leaf's own chunk; every edge narrower than a chunk lies
 * in the last one; everything else is a stored top node. Asked in leaf order, each chunk is read
 * once per pass (export asks twice: the replay, then the proofs section).
 */
export class BoundedTreeProofs implements ProofSource {
  private readonly edges = new Map<number, Buffer>();
  private chunk: Chunk | undefined;
  private readonly chunks: ChunkHasher;

  private constructor(
    private readonly store: EventStore,
    readonly size: number,
    private readonly height: number,
    /** top[j]: the perfect, aligned subtrees of 2^(height + j) leaves, 32 bytes each. */
    private readonly top: Buffer[],
    /** The last chunk when it is not full (it holds every edge narrower than a chunk). */
    private readonly tail: Chunk | undefined,
    chunks: ChunkHasher,
  ) {
    this.chunks = chunks;
  }

  /**
   * Reads the stored leaf hashes of [0, size) once, keeping only the top levels and the last chunk.
   * A leaf the store did not return is zero, as in `TreeProofs`. Store failures propagate.
   * `chunkHeight` overrides the chunk's 2^height leaves (tests: many chunks in a small tree).
   */
  static async read(store: EventStore, size: number, chunkHeight?: number): Promise<BoundedTreeProofs> {
    const height = chunkHeight ?? Math.max(MIN_CHUNK_HEIGHT, Math.ceil(Math.log2(Math.max(size, 1)) / 2));
    const width = 2 ** height;
    const full = Math.floor(size / width);
    const roots = Buffer.alloc(full * HASH_SIZE);
    const chunks = new ChunkHasher(height);
    let tail: Chunk | undefined;
    // A page is a whole number of chunks (both powers of two), and small: a page's rows and hex
    // strings then die young instead of being promoted (65,536 at a time: 301 → 230 MB peak RSS, 300 k export).
    const page = Math.max(BOUNDED_LEAF_PAGE, width);
    const leaves = Buffer.alloc(Math.min(size, page) * HASH_SIZE);
    for (let from = 0; from < size; from += page) {
      const to = Math.min(size, from + page);
      const hashes = await store.leafHashes(from, to);
      leaves.fill(0);
      writeLeaves(hashes, leaves);
      for (let begin = from; begin < to; begin += width) {
        const end = Math.min(to, begin + width);
        const chunk = leaves.subarray((begin - from) * HASH_SIZE, (end - from) * HASH_SIZE);
        if (end - begin === width) roots.set(chunks.hash(chunk)[height]!, (begin / width) * HASH_SIZE);
        else tail = { index: begin / width, levels: subtreeLevels(Buffer.from(chunk)) };
      }
    }
    return new BoundedTreeProofs(store, size, height, subtreeLevels(roots), tail, chunks);
  }

  /** RFC 9162 §2.1.3.1 PATH(index, D[0:size]); reads the leaf's chunk when it is not the one held. */
  async proof(index: number): Promise<Buffer[]> {
    const ranges = inclusionRanges(index, this.size);
    const c = Math.floor(index / 2 ** this.height);
    if (c !== this.tail?.index && c !== this.chunk?.index) {
      const width = 2 ** this.height;
      const page = await this.store.leafHashes(c * width, (c + 1) * width);
      // From here on synchronous (the reused buffers filled, hashed, used): concurrent calls never mix chunks.
      const leaves = this.chunks.leaves();
      writeLeaves(page, leaves);
      this.chunk = { index: c, levels: this.chunks.hash(leaves) };
    }
    return ranges.map((r) => this.root(r.begin, r.end, c));
  }

  /** MTH(D[begin:end]) for a range of the RFC 9162 §2.1.1 recursion over [0, size), with chunk `c` held. */
  private root(begin: number, end: number, c: number): Buffer {
    const width = end - begin;
    const height = Math.log2(width);
    if (Number.isInteger(height) && begin % width === 0) {
      if (height >= this.height) return at(this.top[height - this.height]!, begin / width);
      const within = Math.floor(begin / 2 ** this.height);
      const chunk = within === this.tail?.index ? this.tail : within === c ? this.chunk : undefined;
      // Unreachable by the argument above: a path's narrow siblings are in its own chunk.
      if (chunk === undefined) throw new Error(`subtree [${begin}, ${end}) is outside chunk ${c} and the last chunk`);
      const node = at(chunk.levels[height]!, (begin - within * 2 ** this.height) / width);
      // The held chunk's buffers are rewritten for the next chunk: a proof keeps a copy.
      return chunk === this.tail ? node : Buffer.from(node);
    }
    // Not perfect: a right edge [begin, size), split as RFC 9162 §2.1.1 does.
    let root = this.edges.get(begin);
    if (root === undefined) {
      let k = 1;
      while (k * 2 < width) k *= 2;
      root = nodeHash(this.root(begin, begin + k, c), this.root(begin + k, end, c));
      this.edges.set(begin, root);
    }
    return root;
  }
}

/** Writes a page of stored leaf hashes (hex) into `into`; a leaf the store did not return stays zero, one it added is ignored. */
function writeLeaves(page: readonly string[], into: Buffer): void {
  const count = Math.min(page.length, into.length / HASH_SIZE);
  for (let i = 0; i < count; i++) into.write(page[i]!, i * HASH_SIZE, HASH_SIZE, 'hex');
}

/** levels[0] = `leaves`; levels[h]: the perfect, aligned subtrees of 2^h of them, 32 bytes each, while there is one. */
function subtreeLevels(leaves: Buffer): Buffer[] {
  const levels = [leaves];
  for (let below = leaves; below.length >= 2 * HASH_SIZE; ) {
    const count = Math.floor(below.length / (2 * HASH_SIZE));
    const level = Buffer.alloc(count * HASH_SIZE);
    for (let i = 0; i < count; i++) level.set(nodeHash(at(below, 2 * i), at(below, 2 * i + 1)), i * HASH_SIZE);
    levels.push(level);
    below = level;
  }
  return levels;
}

/**
 * `subtreeLevels` of one full chunk (2^height leaf hashes) into buffers it reuses for every chunk:
 * no Buffer per node or per chunk, so a pass over the log leaves no garbage outside the V8 heap.
 * The levels returned stay valid until the next call.
 */
class ChunkHasher {
  /** Leaf hashes from byte 1: nodeHashPairsInPlace hashes 0x01 ‖ left ‖ right where they lie, overwriting byte 0 of each pair. */
  private readonly scratch: Buffer;
  private readonly inputs: Buffer[];
  private readonly levels: Buffer[];
  private readonly input: Buffer;

  constructor(readonly height: number) {
    const width = 2 ** height;
    this.scratch = Buffer.allocUnsafe(1 + width * HASH_SIZE);
    this.inputs = pairInputs(this.scratch, width / 2);
    this.levels = Array.from({ length: height + 1 }, (_, h) => Buffer.alloc((width / 2 ** h) * HASH_SIZE));
    this.input = Buffer.alloc(width * HASH_SIZE);
  }

  /** A zeroed buffer for one chunk's leaf hashes, reused (a leaf the store does not return stays zero). */
  leaves(): Buffer {
    return this.input.fill(0);
  }

  /** The levels of `leaves`, which must be 2^height hashes (32 bytes each). */
  hash(leaves: Buffer): Buffer[] {
    this.levels[0]!.set(leaves);
    for (let h = 1; h <= this.height; h++) {
      const below = this.levels[h - 1]!;
      this.scratch.set(below, 1);
      this.levels[h]!.write(nodeHashPairsInPlace(this.inputs, below.length / (2 * HASH_SIZE)).join(''), 0, 'latin1');
    }
    return this.levels;
  }
}

function at(level: Buffer, i: number): Buffer {
  return level.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
}
