// Reading a plan file (YAML, or JSON — a YAML 1.2 subset — parsed by the same code) into a
// normalized, hashed plan. Every error is an InputError naming the file, the line and the field.
import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { z } from 'zod';
import { InputError } from '../errors.js';
import { decodeUtf8, readBoundedFile } from '../input/decode.js';
import { LIMITS, quote } from '../input/limits.js';
import { parseYaml } from '../input/yaml.js';
import { hashPlan, PlanFile, type Plan } from './plan.js';

/** Parses and validates plan text (safe YAML mode, src/input/yaml.ts); `file` only names the source in errors. */
export function parsePlan(text: string, file = 'plan'): Plan {
  const { value, doc, lineCounter } = parseYaml(text, { file, at: (line) => (line === undefined ? file : `${file}:${line}`), what: 'plan' });
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InputError(`${file}:1: a plan must be a mapping with "governance" and "execution" sections`, { file, line: 1 });
  }
  const parsed = PlanFile.safeParse(value);
  if (!parsed.success) throw issueError(parsed.error.issues[0]!, doc, lineCounter, file);
  return hashPlan(parsed.data);
}

/** Reads and validates a plan file from disk: at most LIMITS.documentBytes of UTF-8 (docs/limits.md). */
export function readPlanFile(path: string): Plan {
  return parsePlan(decodeUtf8(readBoundedFile(path, LIMITS.documentBytes, 'plan'), path), path);
}

/** Turns the first zod issue into "file:line: field a.b.c: message". */
function issueError(issue: z.core.$ZodIssue, doc: Document, lineCounter: LineCounter, file: string): InputError {
  let path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    // Point at the unknown key itself, not at the mapping holding it.
    const key = issue.keys[0]!;
    path = [...path, key];
    message = `unknown field ${quote(key)}${expectedFields(issue.path)}`;
  } else if (issue.code === 'invalid_type' && issue.input === undefined) {
    message = 'is required';
  }
  // Names come from the file: clipped, so a hostile key cannot make the message huge.
  const field = path.length ? path.map((p) => (typeof p === 'string' && p.length > 60 ? `${p.slice(0, 60)}…` : String(p))).join('.') : '(plan)';
  const line = lineOf(doc, path, lineCounter);
  return new InputError(`${file}:${line}: field ${field}: ${message}`, { file, line, field });
}

function expectedFields(path: PropertyKey[]): string {
  if (path.length === 0) return ' (a plan has "governance" and "execution")';
  return '';
}

/** The line of the deepest node along `path` that exists (a missing field points at its parent). */
function lineOf(doc: Document, path: (string | number)[], lineCounter: LineCounter): number {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0] ?? 0;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(key));
      if (!pair) break;
      const keyNode = pair.key as Node | null;
      offset = keyNode?.range?.[0] ?? offset;
      node = pair.value;
      // Errors about a value point at the value when it is on its own line, else at the key.
      const valueStart = (node as Node | null)?.range?.[0];
      if (valueStart !== undefined && !isMap(node) && !isSeq(node)) offset = valueStart;
    } else if (isSeq(node) && typeof key === 'number' && node.items[key] !== undefined) {
      node = node.items[key];
      offset = (node as Node | null)?.range?.[0] ?? offset;
    } else {
      break;
    }
  }
  return lineCounter.linePos(offset).line;
}
