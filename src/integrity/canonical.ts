// RFC 8785 JSON Canonicalization Scheme (JCS). ECMAScript's JSON.stringify already serialises
// numbers (RFC 8785 §3.2.2.3) and strings (§3.2.2.2) exactly as JCS requires; what JCS adds is
// member ordering by UTF-16 code units (§3.2.3) and the refusal of values JSON cannot carry.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export class CanonicalizationError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(`${message} at ${path || '(root)'}`);
  }
}

/** Text already in JCS form, written verbatim when it appears as a value: lets a caller that has
 *  canonicalized a large member once (an event's data) embed it in several documents. */
export class CanonicalText {
  constructor(readonly text: string) {}
}

/** The JCS text of a JSON value. Throws on NaN, Infinity, undefined members in arrays, functions, bigint, cycles. */
export function canonicalize(value: unknown): string {
  try {
    return write(value, []);
  } catch (err) {
    if (err instanceof Refusal) throw new CanonicalizationError(err.reason, err.path());
    throw err;
  }
}

/** The JCS bytes (UTF-8) of a JSON value. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalize(value), 'utf8');
}

// Hot path (every append and every verified event): no path strings are built while writing;
// a refusal collects its location while it unwinds, and only then is the message formatted.
class Refusal {
  /** Innermost last: member names and array indices from the refused value up to the root. */
  readonly trail: (string | number)[] = [];
  constructor(readonly reason: string) {}

  path(): string {
    let path = '';
    for (let i = this.trail.length - 1; i >= 0; i--) {
      const step = this.trail[i]!;
      path = typeof step === 'number' ? `${path}[${step}]` : path ? `${path}.${step}` : step;
    }
    return path;
  }
}

function refuse(err: unknown, step: string | number): unknown {
  if (err instanceof Refusal) err.trail.push(step);
  return err;
}

function write(value: unknown, open: object[]): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new Refusal('non-finite number');
      return JSON.stringify(value);
    case 'string':
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new Refusal(`${typeof value} is not JSON`);
  }
  if (value instanceof CanonicalText) return value.text;
  // `open` holds the objects being written above this one: depth is small, a scan is cheapest.
  if (open.includes(value)) throw new Refusal('cycle');
  open.push(value);
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      try {
        out += (i === 0 ? '' : ',') + write(item === undefined ? null : item, open);
      } catch (err) {
        throw refuse(err, i);
      }
    }
    out += ']';
  } else {
    const record = value as Record<string, unknown>;
    // Array.prototype.sort compares strings by UTF-16 code units, which is RFC 8785 §3.2.3's order.
    const keys = Object.keys(record).sort();
    out = '{';
    for (const key of keys) {
      const member = record[key];
      if (member === undefined) continue;
      try {
        out += (out.length === 1 ? '' : ',') + JSON.stringify(key) + ':' + write(member, open);
      } catch (err) {
        throw refuse(err, key);
      }
    }
    out += '}';
  }
  open.pop();
  return out;
}
