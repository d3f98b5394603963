// The integrator's records and the decisions made from them. Pure: no I/O.
//
// The tree stream (`<ledger>:tree`) is the ledger's integration log. Record k says: leaves
// [from, size) are the events at these `$all` positions, in this order, and the compact range of
// [0, size) is `range`. Each record must extend the one before it (from = previous size, positions
// above the previous last one), so the stream is one linear history; writers append with the
// expected revision they read (fencing: a second integrator's append fails and it re-reads).
// Readers turn leaf index ↔ position with these records, and check every event `$all` hands out
// against them, so an event missing from `$all` (a deleted, truncated or scavenged stream) or one
// inserted below the integrated position is an IntegrityError, never a silent shift of leaves.
import { IntegrityError } from '../../errors.js';
import { CompactRange } from '../../integrity/compact-range.js';
import type { RecordedEvent, TreeState } from '../port.js';

export interface TreeRecord {
  /** First leaf index this record integrates (the previous record's size). */
  from: number;
  size: number;
  /** `$all` positions of leaves [from, size), increasing. */
  positions: number[];
  /** Compact range of [0, size), hex, left to right. */
  range: string[];
}

const HEX64 = /^[0-9a-f]{64}$/;

/** A tree record from its stored JSON, shape-checked. */
export function decodeTreeRecord(data: unknown, where: string): TreeRecord {
  const r = data as Partial<TreeRecord> | null;
  const ok =
    r !== null &&
    typeof r === 'object' &&
    Number.isSafeInteger(r.from) &&
    Number.isSafeInteger(r.size) &&
    Array.isArray(r.positions) &&
    r.positions.every((p) => Number.isSafeInteger(p)) &&
    Array.isArray(r.range) &&
    r.range.every((h) => typeof h === 'string' && HEX64.test(h));
  if (!ok) throw new IntegrityError(`${where} is not a tree record`);
  return { from: r.from!, size: r.size!, positions: r.positions!, range: r.range! };
}

/** Leaf index ↔ position over the records read so far, and the tree they describe. */
export class TreeIndex {
  private readonly records: TreeRecord[] = [];
  /** Revision of the last record in the tree stream, -1 when there is none. */
  revision = -1;

  get size(): number {
    return this.records.at(-1)?.size ?? 0;
  }

  /** Position of the last integrated event, -1 when nothing is integrated. */
  get lastPosition(): number {
    return this.records.at(-1)?.positions.at(-1) ?? -1;
  }

  state(): TreeState {
    const last = this.records.at(-1);
    return last ? { size: last.size, range: [...last.range] } : { size: 0, range: [] };
  }

  /** Adds the record at the next revision of the tree stream; it must extend the tree. */
  push(record: TreeRecord, where: string): void {
    const problem = extensionProblem(this, record);
    if (problem) throw new IntegrityError(`${where} does not extend the tree: ${problem}`, { index: record.from });
    this.records.push(record);
    this.revision += 1;
  }

  /** Leaf index of the event at `position`, null when it is not integrated (or not a leaf). */
  indexOf(position: number): number | null {
    if (position > this.lastPosition) return null;
    let lo = 0;
    let hi = this.records.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.records[mid]!.positions.at(-1)! < position) lo = mid + 1;
      else hi = mid;
    }
    const record = this.records[lo];
    if (!record) return null;
    const k = binarySearch(record.positions, position);
    return k < 0 ? null : record.from + k;
  }

  /** Position of leaf `index` (0 ≤ index < size). */
  positionOf(index: number): number {
    let lo = 0;
    let hi = this.records.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.records[mid]!.size <= index) lo = mid + 1;
      else hi = mid;
    }
    const record = this.records[lo];
    if (!record || index < record.from || index >= record.size) throw new RangeError(`leaf ${index} is outside the tree of size ${this.size}`);
    return record.positions[index - record.from]!;
  }
}

function binarySearch(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = sorted[mid]!;
    if (v === value) return mid;
    if (v < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** Why `record` cannot follow the tree, or undefined when it extends it. */
export function extensionProblem(tree: TreeIndex, record: TreeRecord): string | undefined {
  if (record.from !== tree.size) return `it starts at leaf ${record.from}, the tree has ${tree.size} leaves`;
  if (record.size - record.from !== record.positions.length || record.positions.length === 0) {
    return `it lists ${record.positions.length} positions for leaves [${record.from}, ${record.size})`;
  }
  let last = tree.lastPosition;
  for (const position of record.positions) {
    if (position <= last) return `position ${position} does not follow position ${last}`;
    last = position;
  }
  return undefined;
}

/**
 * The integrator's step: the record that integrates `pending` — the ledger's events after the
 * tree's last position, in `$all` order — on top of `tree`. The compact range commits to each
 * event's bytes (its recomputed leaf hash), never to a stored hash.
 */
export function planIntegration(tree: TreeIndex, pending: readonly RecordedEvent[]): TreeRecord {
  const state = tree.state();
  const range = CompactRange.fromState(state.size, state.range.map((h) => Buffer.from(h, 'hex')));
  const positions: number[] = [];
  for (const event of pending) {
    range.append(Buffer.from(event.leafHash, 'hex'));
    positions.push(event.position);
  }
  const record = { from: state.size, size: range.size, positions, range: range.hashes().map((h) => h.toString('hex')) };
  const problem = extensionProblem(tree, record);
  if (problem) throw new IntegrityError(`cannot integrate: ${problem}`, { index: state.size });
  return record;
}

/**
 * Checks a page of `$all` events against the tree, from leaf `fromIndex` on: each integrated event
 * must be the leaf the tree says is at its position. Returns the events with their leaf indices.
 */
export function assignLeaves(tree: TreeIndex, fromIndex: number, page: readonly RecordedEvent[]): RecordedEvent[] {
  return page.map((event, k) => {
    const index = fromIndex + k;
    const expected = tree.positionOf(index);
    if (event.position !== expected) {
      throw new IntegrityError(
        `leaf ${index} is the event at $all position ${expected} by the tree stream, but $all hands out ${event.envelope.stream}@${event.envelope.revision} at position ${event.position} there: ` +
          'a ledger event was removed (stream deleted, truncated or scavenged) or written below the integrated position',
        { index, stream: event.envelope.stream, revision: event.envelope.revision },
      );
    }
    return { ...event, index };
  });
}
