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

/** The JCS text of a JSON value. Throws on NaN, Infinity, undefined members in arrays, functions, bigint, cycles. */
export function canonicalize(value: unknown): string {
  return write(value, '', new Set());
}

/** The JCS bytes (UTF-8) of a JSON value. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalize(value), 'utf8');
}

function write(value: unknown, path: string, seen: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalizationError('non-finite number', path);
      return JSON.stringify(value);
    case 'string':
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new CanonicalizationError(`${typeof value} is not JSON`, path);
  }
  const object = value as object;
  if (seen.has(object)) throw new CanonicalizationError('cycle', path);
  seen.add(object);
  let out: string;
  if (Array.isArray(object)) {
    out = `[${object.map((item, i) => write(item === undefined ? null : item, `${path}[${i}]`, seen)).join(',')}]`;
  } else {
    const record = object as Record<string, unknown>;
    // Array.prototype.sort compares strings by UTF-16 code units, which is RFC 8785 §3.2.3's order.
    const keys = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort();
    out = `{${keys.map((k) => `${JSON.stringify(k)}:${write(record[k], path ? `${path}.${k}` : k, seen)}`).join(',')}}`;
  }
  seen.delete(object);
  return out;
}
