// Event ids the ledger generates: RFC 9562 UUIDv7, time-ordered. Every store keeps a unique index
// on the id; random (v4) ids land anywhere in it, so each append dirties index pages all over the
// file, while v7 ids of one moment sort together and appends touch the index's right edge.
import { randomFillSync } from 'node:crypto';

// Random bytes are drawn from the CSPRNG in blocks: one getrandom call per id cost more than the
// rest of an append's validation (docs/benchmarks.md, "SQLite append"). Each id uses 10 fresh bytes.
const ID_RANDOM = 10;
const pool = Buffer.alloc(ID_RANDOM * 512);
let poolAt = pool.length;
let lastMs = -1;
let sequence = 0;

/**
 * A UUIDv7 (RFC 9562 §5.7): 48-bit Unix time in ms, version 7, 12 bits `rand_a`, variant 10, 62 bits
 * `rand_b`. Within one millisecond `rand_a` is a counter from a random start (§6.2, method 1), so ids
 * of one process strictly increase; when the counter runs out or the clock steps back, the time field
 * moves on from the last one used instead.
 */
export function uuidv7(now: number = Date.now()): string {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    // variant 10 (RFC 9562 §4.1) in every id's byte 2, then the whole block as hex once: an id's
    // rand_b is two slices of that text, not a hex conversion of its own.
    for (let at = 2; at < pool.length; at += ID_RANDOM) pool[at] = (pool[at]! & 0x3f) | 0x80;
    poolHex = pool.toString('hex');
    poolAt = 0;
  }
  const at = poolAt;
  poolAt += ID_RANDOM;
  if (now > lastMs) {
    lastMs = now;
    // Start in the lower half so a burst within one millisecond has room to count.
    sequence = pool.readUInt16BE(at) & 0x7ff;
  } else if (sequence < 0xfff) {
    sequence += 1;
  } else {
    lastMs += 1;
    sequence = pool.readUInt16BE(at) & 0x7ff;
  }
  if (lastMs !== prefixMs) {
    // The time field's text changes once a millisecond, not once an id.
    const hex = lastMs.toString(16).padStart(12, '0');
    prefix = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-`;
    prefixMs = lastMs;
  }
  const h = 2 * (at + 2); // rand_b: bytes at + 2 .. at + 9 of the block, variant bits already set
  return `${prefix}${(0x7000 | sequence).toString(16)}-${poolHex.slice(h, h + 4)}-${poolHex.slice(h + 4, h + 16)}`;
}

let poolHex = '';

let prefixMs = -1;
let prefix = '';
