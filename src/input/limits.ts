// The one input-limits policy (docs/limits.md). Every entry point — NDJSON `append`, plans,
// policies, bundles, Kafka messages, HTTP requests, command-line counts — refuses input beyond
// these numbers with an InputError (exit 2) that names where and the limit. Sizes are checked
// before anything is parsed; text must be valid UTF-8 and is never repaired.
import { InputError, type ErrorLocation } from '../errors.js';

export const LIMITS = {
  /** One NDJSON line, i.e. one event as written to `append` or one Kafka message value. */
  lineBytes: 1024 * 1024,
  /** A whole NDJSON input to `append`. */
  appendBytes: 64 * 1024 * 1024,
  /** A plan or policy file. */
  documentBytes: 1024 * 1024,
  /** An audit bundle file. verify-bundle streams it (1 MiB reads), so this bounds time, not memory: ~10 M events. */
  bundleBytes: 16 * 1024 * 1024 * 1024,
  /** Nesting of arrays and objects: an event's `data` is level 1; plans and policies count from their root. */
  depth: 64,
  /** Events in one append (one all-or-nothing store transaction). */
  eventsPerAppend: 100_000,
  /** Rules in a gate policy. */
  policyRules: 1_000,
  /** Runs in one campaign (`campaign --repeats`, `demo --repeats`); re-executions of one `retrain --repeat`. */
  repeats: 1_000,
  /** Alias (`*name`) expansions in one YAML document (billion laughs). */
  yamlAliases: 100,
  /** An HTTP request body. */
  requestBodyBytes: 64 * 1024,
  /** Time to receive one whole HTTP request, headers and body (slowloris). */
  requestMs: 10_000,
  /** Concurrent Server-Sent-Events connections to one dashboard. */
  sseConnections: 64,
} as const;

export type LimitName = keyof typeof LIMITS;

// Created on first use: building an Intl formatter costs milliseconds every command would pay at start-up.
let number: Intl.NumberFormat | undefined;

/** "N bytes", "N events": counts with thousands separators so a limit reads at a glance. */
export function count(n: number, unit: string): string {
  return `${(number ??= new Intl.NumberFormat('en-US')).format(n)} ${unit}`;
}

/** The refusal every limit shares: `<where>: <what> is <actual>, over the limit of <limit> (docs/limits.md)`. */
export function overLimit(where: string, what: string, actual: string, limit: string, location: ErrorLocation = {}): InputError {
  return new InputError(`${where}: ${what} is ${actual}, over the limit of ${limit} (docs/limits.md)`, location);
}

/** Refuses a count above a limit, e.g. `--repeats 1e9` or a policy's rules. */
export function checkCount(where: string, what: string, actual: number, limit: number, unit: string, location: ErrorLocation = {}): void {
  if (actual > limit) throw overLimit(where, what, count(actual, unit), count(limit, unit), location);
}

/**
 * The path (member names and indices) to the first array or object nested deeper than `max`
 * levels (the value itself is level 1), or undefined. Iterative, and stops at the limit.
 */
export function tooDeep(value: unknown, max: number): (string | number)[] | undefined {
  const stack: [unknown, (string | number)[]][] = [[value, []]];
  while (stack.length > 0) {
    // Depth first: a cyclic value (YAML aliases can build one) reaches the limit on its first branch.
    const [item, path] = stack.pop()!;
    if (item === null || typeof item !== 'object') continue;
    if (path.length >= max) return path;
    const entries: [string | number, unknown][] = Array.isArray(item) ? item.map((v, i) => [i, v]) : Object.entries(item);
    for (let k = entries.length - 1; k >= 0; k--) {
      const [step, child] = entries[k]!;
      if (child !== null && typeof child === 'object') stack.push([child, [...path, step]]);
    }
  }
  return undefined;
}

/**
 * `a.b[0].c`, shortened after a dozen steps (a depth refusal's path is long by definition). A name
 * that is not a plain identifier is quoted, `a["x y"]`, with JSON escapes (so a lone surrogate or
 * a control character in a hostile name shows as its escape, not as itself).
 */
export function fieldPath(path: readonly (string | number)[], root = ''): string {
  const shown = path.length > 12 ? path.slice(0, 12) : path;
  let out = root;
  for (const step of shown) {
    if (typeof step === 'number') out = `${out}[${step}]`;
    else if (/^[A-Za-z_$][\w$-]{0,59}$/.test(step)) out = out ? `${out}.${step}` : step;
    else out = `${out}[${quote(step)}]`;
  }
  return path.length > shown.length ? `${out}…` : out || '(root)';
}

/** Text an attacker chose (a member name, a value), JSON-quoted and clipped for an error message. */
export function quote(text: string, max = 60): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

/** The parts of a zod issue a message needs (structural, so this module does not depend on zod). */
export interface SchemaIssue {
  code: string;
  message: string;
  path: readonly PropertyKey[];
  keys?: readonly string[];
}

/**
 * A schema issue as `{ field, message }`, safe to print in one sentence: names and echoed values
 * are clipped, an unknown member is named as such. `root` prefixes the field (e.g. `data`).
 */
export function describeIssue(issue: SchemaIssue, root = ''): { field: string; message: string } {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys' && issue.keys && issue.keys.length > 0) {
    const [first, ...more] = issue.keys;
    return { field: fieldPath([...path, first!], root), message: `unknown field ${quote(first!)}${more.length ? ` (and ${more.length} more)` : ''}` };
  }
  const message = issue.message.length > 300 ? `${issue.message.slice(0, 300)}…` : issue.message;
  return { field: path.length || root ? fieldPath(path, root) : '', message };
}
