// Reading a plan file (YAML, or JSON — a YAML 1.2 subset — parsed by the same code) into a
// normalized, hashed plan. Every error is an InputError naming the file, the line and the field.
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { InputError } from '../errors.js';
import { hashPlan, PlanFile, type Plan } from './plan.js';

/** Largest plan file accepted; plans are small, this only guards against accidents. */
const MAX_PLAN_BYTES = 4 * 1024 * 1024;

/** Parses and validates plan text; `file` only names the source in errors. */
export function parsePlan(text: string, file = 'plan'): Plan {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  const syntax = doc.errors[0];
  if (syntax) {
    const line = lineCounter.linePos(syntax.pos[0]).line;
    const reason = syntax.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new InputError(`${file}:${line}: ${reason}`, { file, line });
  }
  let value: unknown;
  try {
    // Alias expansion is bounded so a hostile file cannot explode in memory.
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // Too many aliases, or nesting deeper than the stack allows.
    throw new InputError(`${file}: ${err instanceof RangeError ? 'the plan nests too deeply to be read' : err instanceof Error ? err.message : String(err)}`, { file });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InputError(`${file}:1: a plan must be a mapping with "governance" and "execution" sections`, { file, line: 1 });
  }
  let parsed;
  try {
    parsed = PlanFile.safeParse(value);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw new InputError(`${file}: the plan nests too deeply to be read`, { file });
  }
  if (!parsed.success) throw issueError(parsed.error.issues[0]!, doc, lineCounter, file);
  return hashPlan(parsed.data);
}

/** Reads and validates a plan file from disk. */
export function readPlanFile(path: string): Plan {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read plan ${path}: ${code === 'ENOENT' ? 'no such file' : code ?? String(err)}`, { file: path });
  }
  if (bytes.length > MAX_PLAN_BYTES) throw new InputError(`${path}: plan is larger than ${MAX_PLAN_BYTES} bytes`, { file: path });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InputError(`${path}: plan is not valid UTF-8`, { file: path });
  }
  return parsePlan(text, path);
}

/** Turns the first zod issue into "file:line: field a.b.c: message". */
function issueError(issue: z.core.$ZodIssue, doc: Document, lineCounter: LineCounter, file: string): InputError {
  let path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    // Point at the unknown key itself, not at the mapping holding it.
    const key = issue.keys[0]!;
    path = [...path, key];
    message = `unknown field "${key}"${expectedFields(issue.path)}`;
  } else if (issue.code === 'invalid_type' && issue.input === undefined) {
    message = 'is required';
  }
  const field = path.length ? path.join('.') : '(plan)';
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
