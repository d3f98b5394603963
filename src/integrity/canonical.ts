// RFC 8785 JSON Canonicalization Scheme (JCS). ECMAScript's JSON.stringify already serialises
// numbers (RFC 8785 §3.2.2.3) and strings (§3.2.2.2) exactly as JCS requires; what JCS adds is
// member ordering by UTF-16 code units (§3.2.3) and the refusal of values JSON cannot carry.
// Strict: a value is refused, never coerced — lone surrogates (§3.2.2.2 requires an error),
// non-finite numbers, anything but plain objects and arrays, and nesting beyond a fixed depth.
import { fieldPath, LIMITS } from '../input/limits.js';

declare global {
  interface String {
    /** ES2024 (Node ≥ 20); TypeScript's ES2023 lib lacks it. */
    isWellFormed(): boolean;
  }
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export class CanonicalizationError extends Error {
  constructor(
    /** What was refused, e.g. `non-finite number`. */
    readonly reason: string,
    /** Where, as text (`a.b[0]`, shortened when long). */
    readonly path: string,
    /** Where, as member names and array indices from the root. */
    readonly steps: readonly (string | number)[] = [],
  ) {
    super(`${reason} at ${path || '(root)'}`);
  }
}

/**
 * Deepest nesting of arrays and objects canonicalize accepts by default (docs/limits.md): an
 * event's data may nest LIMITS.depth levels and its envelope adds one. RFC 8785 sets no limit; a
 * bound keeps every hostile value an error instead of a stack overflow.
 */
export const MAX_CANONICAL_DEPTH = LIMITS.depth + 1;

export interface CanonicalizeOptions {
  /** Deepest nesting accepted; the value itself is level 1. Default MAX_CANONICAL_DEPTH. */
  maxDepth?: number;
}

/** Text already in JCS form, written verbatim when it appears as a value: lets a caller that has
 *  canonicalized a large member once (an event's data) embed it in several documents. */
export class CanonicalText {
  constructor(readonly text: string) {}
}

/**
 * The JCS text of a JSON value. Throws CanonicalizationError (never a RangeError) on NaN and
 * Infinity, lone surrogates in strings or member names, bigint, functions, symbols, cycles,
 * objects that are not plain (Date, Map, Set, Buffer, typed arrays, class instances) and nesting
 * deeper than `maxDepth`. An undefined array item is written as null and an undefined member is
 * left out, as JSON.stringify does. (An own member named "__proto__" is data like any other here;
 * the decoders of untrusted text refuse it, src/input/decode.ts.)
 */
export function canonicalize(value: unknown, options?: CanonicalizeOptions): string {
  try {
    // A string (most of an envelope's members) is written without a stack of open objects.
    return typeof value === 'string' ? string(value) : write(value, [], options?.maxDepth ?? MAX_CANONICAL_DEPTH);
  } catch (err) {
    if (err instanceof Refusal) {
      const steps = [...err.trail].reverse();
      throw new CanonicalizationError(err.reason, steps.length === 0 ? '' : fieldPath(steps), steps);
    }
    throw err;
  }
}

/** The JCS bytes (UTF-8) of a JSON value. */
export function canonicalBytes(value: unknown, options: CanonicalizeOptions = {}): Buffer {
  return Buffer.from(canonicalize(value, options), 'utf8');
}

// Hot path (every append and every verified event): no path strings are built while writing;
// a refusal collects its location while it unwinds, and only then is the message formatted.
class Refusal {
  /** Innermost last: member names and array indices from the refused value up to the root. */
  readonly trail: (string | number)[] = [];
  constructor(readonly reason: string) {}
}

function refuse(err: unknown, step: string | number): unknown {
  if (err instanceof Refusal) err.trail.push(step);
  return err;
}

/** What a non-plain object is, for the refusal: `Date`, `Map`, `Buffer`, a class name. */
function kindOf(value: object): string {
  const constructor = (Object.getPrototypeOf(value) as { constructor?: unknown } | null)?.constructor;
  const name = typeof constructor === 'function' && constructor !== Object ? constructor.name : '';
  return name !== '' ? name : 'an object with a custom prototype';
}

/** Whether JCS writes `value` as itself in quotes: short, nothing to escape, no surrogate at all. */
function plainString(value: string): boolean {
  if (value.length > 64) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return false;
  }
  return true;
}

function string(value: string): string {
  // Fast path (most member names and values): nothing to escape and no surrogate at all, so the
  // JCS text is the string in quotes, exactly what JSON.stringify writes for it.
  if (plainString(value)) return `"${value}"`;
  // RFC 8785 §3.2.2.2: a lone surrogate cannot be serialised as UTF-8, so it is an error.
  if (!value.isWellFormed()) throw new Refusal('lone surrogate (not Unicode text) in a string');
  return JSON.stringify(value);
}

/** Member names sorted by UTF-16 code units (RFC 8785 §3.2.3), each as its JCS text and a colon. */
interface MemberOrder {
  /** Object.keys of the objects this order is for, in their own order. */
  keys: readonly string[];
  sorted: readonly string[];
  names: readonly string[];
}

// Objects of one shape repeat from event to event (an event type's data): the last few shapes'
// member orders are kept, so such an object is written without sorting its keys or scanning them
// again. The order is a pure function of the keys, compared one by one; only plain names are kept.
const MEMBER_ORDERS = 8;
const memberOrders: MemberOrder[] = [];
let nextMemberOrder = 0;

function memberOrder(keys: string[]): MemberOrder | undefined {
  const n = keys.length;
  search: for (const order of memberOrders) {
    const known = order.keys;
    if (known.length !== n) continue;
    for (let i = 0; i < n; i++) if (known[i] !== keys[i]) continue search;
    return order;
  }
  if (n > 32) return undefined;
  for (let i = 0; i < n; i++) if (!plainString(keys[i]!)) return undefined;
  const sorted = sortedNames(keys.slice());
  const order: MemberOrder = { keys, sorted, names: sorted.map((key) => `"${key}":`) };
  memberOrders[nextMemberOrder] = order;
  nextMemberOrder = (nextMemberOrder + 1) % MEMBER_ORDERS;
  return order;
}

/** Sorts member names in place by UTF-16 code units, as Array.prototype.sort does, without its allocations for short lists. */
function sortedNames(names: string[]): string[] {
  if (names.length > 16) return names.sort();
  for (let i = 1; i < names.length; i++) {
    const name = names[i]!;
    let j = i - 1;
    // `>` on strings compares UTF-16 code units, the default sort's order (no two names are equal).
    while (j >= 0 && names[j]! > name) {
      names[j + 1] = names[j]!;
      j -= 1;
    }
    names[j + 1] = name;
  }
  return names;
}

function write(value: unknown, open: object[], maxDepth: number): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new Refusal('non-finite number');
      // JSON.stringify writes a finite number as ToString(number) (ECMA-262 SerializeJSONProperty), RFC 8785 §3.2.2.3.
      // Both spellings are ToString; V8 writes a fraction's digits faster through JSON.stringify (no
      // number-string cache entry), an integer's through the cache (docs/benchmarks.md, "SQLite append").
      return Number.isInteger(value) ? '' + value : JSON.stringify(value);
    case 'string':
      return string(value);
    case 'object':
      break;
    default:
      throw new Refusal(`${typeof value} is not JSON`);
  }
  if (value instanceof CanonicalText) return value.text;
  const prototype = Object.getPrototypeOf(value) as unknown;
  const array = prototype === Array.prototype;
  if (!array && prototype !== Object.prototype && prototype !== null) throw new Refusal(`${kindOf(value)} is not a plain JSON object or array`);
  // `open` holds the objects being written above this one: depth is small, a scan is cheapest.
  if (open.includes(value)) throw new Refusal('cycle');
  if (open.length >= maxDepth) throw new Refusal(`nesting deeper than ${maxDepth} levels`);
  open.push(value);
  let out: string;
  if (array) {
    const list = value as unknown[];
    out = '[';
    for (let i = 0; i < list.length; i++) {
      const item: unknown = list[i];
      try {
        out += (i === 0 ? '' : ',') + write(item === undefined ? null : item, open, maxDepth);
      } catch (err) {
        throw refuse(err, i);
      }
    }
    out += ']';
  } else {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    const order = memberOrder(keys);
    out = '{';
    if (order !== undefined) {
      const { sorted, names } = order;
      for (let m = 0; m < sorted.length; m++) {
        const key = sorted[m]!;
        const member = record[key];
        if (member === undefined) continue;
        try {
          out += (out.length === 1 ? '' : ',') + names[m]! + write(member, open, maxDepth);
        } catch (err) {
          throw refuse(err, key);
        }
      }
    } else {
      for (const key of sortedNames(keys)) {
        const member = record[key];
        if (member === undefined) continue;
        try {
          out += (out.length === 1 ? '' : ',') + string(key) + ':' + write(member, open, maxDepth);
        } catch (err) {
          throw refuse(err, key);
        }
      }
    }
    out += '}';
  }
  open.pop();
  return out;
}
