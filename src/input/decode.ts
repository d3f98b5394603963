// Decoding untrusted bytes into text and JSON values, under the limits of limits.ts: bounded
// reads, UTF-8 refused rather than repaired, JSON errors that name the line, and no member name
// that JavaScript would turn into a prototype instead of data.
import { isUtf8 } from 'node:buffer';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { InputError, type ErrorLocation } from '../errors.js';
import { count, fieldPath, LIMITS, overLimit } from './limits.js';

/**
 * Reads a regular file of at most `maxBytes`: the size is checked on the open descriptor before a
 * byte is read, and reading stops at the limit should the file grow meanwhile.
 */
export function readBoundedFile(path: string, maxBytes: number, what: string): Buffer {
  return withBoundedFile(path, maxBytes, what, (fd, size) => {
    try {
      return readUpTo(fd, size, path, maxBytes, what);
    } catch (err) {
      if (err instanceof InputError) throw err;
      throw new InputError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { file: path });
    }
  });
}

/**
 * Opens a regular file of at most `maxBytes` (its size checked on the open descriptor, as
 * readBoundedFile does) and runs `work` on the descriptor, which is closed afterwards: for readers
 * that stream a large file (verify-bundle) instead of holding it.
 */
export function withBoundedFile<T>(path: string, maxBytes: number, what: string, work: (fd: number, size: number) => T): T {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read ${what} ${path}: ${code === 'ENOENT' ? 'no such file' : code ?? String(err)}`, { file: path });
  }
  try {
    let size: number;
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw new InputError(`cannot read ${what} ${path}: not a regular file`, { file: path });
      size = stat.size;
    } catch (err) {
      if (err instanceof InputError) throw err;
      throw new InputError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { file: path });
    }
    if (size > maxBytes) throw overLimit(path, `the ${what}`, count(size, 'bytes'), count(maxBytes, 'bytes'), { file: path });
    return work(fd, size);
  } finally {
    closeSync(fd);
  }
}

function readUpTo(fd: number, size: number, path: string, maxBytes: number, what: string): Buffer {
  const buffer = Buffer.alloc(Math.min(size, maxBytes) + 1);
  let length = 0;
  for (;;) {
    const n = readSync(fd, buffer, length, buffer.length - length, null);
    if (n === 0) break;
    length += n;
    if (length > maxBytes) throw overLimit(path, `the ${what}`, `more than ${count(maxBytes, 'bytes')}`, count(maxBytes, 'bytes'), { file: path });
    if (length === buffer.length) break;
  }
  return buffer.subarray(0, length);
}

/** Reads a stream (standard input) to its end, refusing it as soon as it passes `maxBytes`. */
export async function readBoundedStream(stream: AsyncIterable<unknown>, maxBytes: number, where: string, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
    length += bytes.length;
    if (length > maxBytes) throw overLimit(where, what, `more than ${count(maxBytes, 'bytes')}`, count(maxBytes, 'bytes'), { file: where });
    chunks.push(bytes);
  }
  return Buffer.concat(chunks, length);
}

/** 1-based line of the first byte sequence that is not UTF-8 (a newline byte never belongs to a sequence). */
function firstInvalidLine(bytes: Buffer): number {
  let line = 1;
  let start = 0;
  for (;;) {
    const end = bytes.indexOf(0x0a, start);
    const stop = end < 0 ? bytes.length : end;
    if (!isUtf8(bytes.subarray(start, stop))) return line;
    if (end < 0) return line;
    start = end + 1;
    line++;
  }
}

/**
 * UTF-8 text of `bytes`, refusing invalid sequences (WHATWG Encoding, fatal mode) instead of
 * replacing them with U+FFFD: runledger never records data other than what it was given.
 * `firstLine` numbers the lines when `bytes` is an excerpt of a larger input.
 */
export function decodeUtf8(bytes: Uint8Array, where: string, firstLine = 1): string {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isUtf8(buffer)) return buffer.toString('utf8').replace(/^\ufeff/, '');
  const line = firstInvalidLine(buffer) + firstLine - 1;
  throw new InputError(`${where} line ${line}: not valid UTF-8; runledger refuses text it would have to alter`, { file: where, line });
}

/**
 * Parses JSON text (V8's parser is iterative, so depth cannot overflow it). A member named
 * `__proto__` is refused: zod and plain assignment would turn it into a prototype and silently
 * drop it from the data, so what was recorded would differ from what was sent.
 */
export function parseJson(text: string, where: string, location: ErrorLocation = {}): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${where} is not JSON (${printable((err as Error).message)})`, location);
  }
  if (text.includes('"__proto__"')) {
    const path = protoMember(value);
    if (path !== undefined) throw new InputError(`${where}: field ${fieldPath(path)}: the member name "__proto__" is refused (docs/limits.md)`, { ...location, field: fieldPath(path) });
  }
  return value;
}

/** A message that may quote the input (V8's JSON errors do), as one clipped line: controls become escapes. */
export function printable(message: string, max = 200): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is escaped
  const line = message.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/**
 * Path to the first `__proto__` member, or undefined. Iterative; it looks no deeper than the depth
 * limit allows (anything deeper is refused for its depth) and visits each node once, so a cyclic
 * value from YAML aliases ends too.
 */
export function protoMember(value: unknown): (string | number)[] | undefined {
  const stack: [unknown, (string | number)[]][] = [[value, []]];
  const seen = new Set<object>();
  while (stack.length > 0) {
    const [item, path] = stack.pop()!;
    if (item === null || typeof item !== 'object' || path.length > LIMITS.depth || seen.has(item)) continue;
    seen.add(item);
    if (!Array.isArray(item) && Object.prototype.hasOwnProperty.call(item, '__proto__')) return [...path, '__proto__'];
    const entries: [string | number, unknown][] = Array.isArray(item) ? item.map((v, i) => [i, v]) : Object.entries(item);
    for (const [step, child] of entries) if (child !== null && typeof child === 'object') stack.push([child, [...path, step]]);
  }
  return undefined;
}
