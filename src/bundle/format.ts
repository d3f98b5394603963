// The bundle container (docs/bundle-format.md): a magic line, five length-prefixed sections in a
// fixed order, each with the SHA-256 of its payload, and an end line with the SHA-256 of every
// byte before it. Framing is parsed strictly, so any changed byte is caught and attributed: a
// changed payload fails its section digest, a changed header breaks the framing of that section,
// a changed end line fails the end digest, and anything after the end line is refused.
import { InputError, IntegrityError } from '../errors.js';
import { createHash, type Hash } from 'node:crypto';
import { readSync } from 'node:fs';
import { sha256Hex } from '../integrity/hasher.js';

export const BUNDLE_MAGIC = 'runledger-bundle/1';
export const SECTION_NAMES = ['manifest', 'checkpoint', 'plans', 'events', 'proofs'] as const;
export type SectionName = (typeof SECTION_NAMES)[number];
export type BundleSections = Record<SectionName, Buffer>;

const NEWLINE = 0x0a;
/** Longest header line: a name, a 16-digit length and a 64-hex digest with separators. */
const MAX_HEADER = 100;
const HEADER = /^([a-z]+) (0|[1-9][0-9]{0,15}) ([0-9a-f]{64})$/;
const END = /^end ([0-9a-f]{64})$/;
/** `end ` + 64 hex digits + `\n`. */
const END_LINE_LENGTH = 69;
/** Bytes read at a time from a source: the memory a scan holds, whatever the bundle's size. */
export const CHUNK = 1 << 20;

/** A bundle's bytes, read by range: a Buffer in memory, or an open file read with pread (bounded memory). */
export interface ByteSource {
  readonly size: number;
  /** Bytes [offset, offset + length) clipped to the source; may share memory with it. */
  read(offset: number, length: number): Buffer;
}

export function bufferSource(bytes: Buffer): ByteSource {
  return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, Math.min(bytes.length, offset + length)) };
}

/** An open bundle file, read with pread at each range: the scan and the verifier hold one chunk at a time. */
export function fileSource(fd: number, size: number): ByteSource {
  return {
    size,
    read(offset, length) {
      const buffer = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
      let got = 0;
      while (got < buffer.length) {
        const n = readSync(fd, buffer, got, buffer.length - got, offset + got);
        if (n === 0) break; // the file shrank meanwhile: what is missing fails the framing or a digest
        got += n;
      }
      return buffer.subarray(0, got);
    },
  };
}

/** Where a section's payload lies in its source. */
export interface SectionRange {
  start: number;
  length: number;
}

/** Feeds bytes [start, end) of `source` to every hash, a chunk at a time. */
function hashRange(source: ByteSource, start: number, end: number, hashes: readonly Hash[]): void {
  for (let at = start; at < end; at += CHUNK) {
    const chunk = source.read(at, Math.min(CHUNK, end - at));
    for (const h of hashes) h.update(chunk);
  }
}

/** The bundle's bytes do not frame or do not match their digests; names the section (exit 1). */
export class BundleIntegrityError extends IntegrityError {
  constructor(
    message: string,
    readonly section: SectionName | 'header' | 'end',
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Writes the container. Payloads are written as given. */
export function encodeBundle(sections: BundleSections): Buffer {
  const parts: Buffer[] = [Buffer.from(`${BUNDLE_MAGIC}\n`, 'ascii')];
  for (const name of SECTION_NAMES) {
    const payload = sections[name];
    parts.push(Buffer.from(`${name} ${payload.length} ${sha256Hex(payload)}\n`, 'ascii'), payload, Buffer.from('\n', 'ascii'));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, Buffer.from(`end ${sha256Hex(body)}\n`, 'ascii')]);
}

/** `runledger-bundle/<N>`: the magic line of some version of the format. */
const VERSION_LINE = /^runledger-bundle\/[0-9]+$/;

/**
 * A file whose first bytes differ from `runledger-bundle/1\nmanifest ` in one or two bytes, and goes
 * on like a bundle, is a bundle with a changed byte (exit 1), not some other file (exit 2).
 */
function looksLikeAlteredMagic(source: ByteSource): boolean {
  const expected = Buffer.from(`${BUNDLE_MAGIC}\nmanifest `, 'ascii');
  if (source.size < expected.length + 70) return false;
  const bytes = source.read(0, expected.length);
  let differences = 0;
  for (let i = 0; i < expected.length; i++) if (bytes[i] !== expected[i]) differences++;
  return differences > 0 && differences <= 2;
}

/**
 * Every version of the format ends with `end <sha256 of every byte before it>\n`. A file that does,
 * intact, was written as it is: another version, not an altered version 1 (a changed byte in the
 * magic line would fail that digest).
 */
function hasIntactEndLine(source: ByteSource): boolean {
  const start = source.size - END_LINE_LENGTH;
  if (start < 1) return false;
  const tail = source.read(start - 1, END_LINE_LENGTH + 1);
  if (tail[tail.length - 1] !== NEWLINE || tail[0] !== NEWLINE) return false;
  const match = END.exec(tail.subarray(1, tail.length - 1).toString('latin1'));
  if (match === null) return false;
  const digest = createHash('sha256');
  hashRange(source, 0, start, [digest]);
  return digest.digest().equals(Buffer.from(match[1]!, 'hex'));
}

/** Reads one line (without its newline) starting at `offset`, at most `max` bytes; undefined when there is none. */
function readLine(source: ByteSource, offset: number, max: number): { text: string; next: number } | undefined {
  const bytes = source.read(offset, max + 1);
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === NEWLINE) {
      const raw = bytes.subarray(0, i);
      // Framing is ASCII; any other byte is a changed byte, not a different encoding.
      for (const b of raw) if (b < 0x20 || b > 0x7e) return { text: '\u0000', next: offset + i + 1 };
      return { text: raw.toString('ascii'), next: offset + i + 1 };
    }
  }
  return undefined;
}

/**
 * Splits a bundle into its sections, checking every digest. A file that does not start with the
 * magic line is not a bundle (InputError, exit 2); a bundle that does not frame or verify is a
 * BundleIntegrityError naming the section (exit 1).
 */
export function decodeBundle(bytes: Buffer): BundleSections {
  const { sections, altered } = readBundle(bytes);
  if (altered[0]) throw altered[0];
  return sections;
}

export interface ReadBundle {
  sections: BundleSections;
  /** Digest failures (sections whose content changed, or the end digest), in file order. */
  altered: BundleIntegrityError[];
}

/**
 * Like decodeBundle, but a section whose content fails its digest is still returned (and listed in
 * `altered`), so a verifier can go on to name the event inside it that changed. Framing errors throw.
 */
export function readBundle(bytes: Buffer): ReadBundle {
  const scan = scanBundle(bufferSource(bytes));
  const payload = (name: SectionName): Buffer => scan.sections[name] ?? Buffer.from(bytes.subarray(scan.ranges[name].start, scan.ranges[name].start + scan.ranges[name].length));
  return { sections: Object.fromEntries(SECTION_NAMES.map((n) => [n, payload(n)])) as BundleSections, altered: scan.altered };
}

/** Sections held in memory by a scan: the small ones; `events` and `proofs` are left in the source. */
export const STREAMED_SECTIONS: ReadonlySet<SectionName> = new Set(['events', 'proofs']);

export interface ScannedBundle {
  /** Payloads of the sections not in STREAMED_SECTIONS. */
  sections: Partial<BundleSections>;
  /** Where every section's payload lies in the source. */
  ranges: Record<SectionName, SectionRange>;
  altered: BundleIntegrityError[];
}

/**
 * readBundle over a source, in one sequential pass of CHUNK-sized reads: the same framing checks,
 * digests and errors in the same order, holding only the small sections.
 */
export function scanBundle(source: ByteSource): ScannedBundle {
  const altered: BundleIntegrityError[] = [];
  // Every byte before the end line, in file order: its digest is the end line's.
  const whole = createHash('sha256');
  const magic = readLine(source, 0, 40);
  if (magic === undefined || magic.text !== BUNDLE_MAGIC) {
    const otherVersion = magic !== undefined && VERSION_LINE.test(magic.text);
    if (otherVersion && hasIntactEndLine(source)) {
      throw new InputError(`unsupported bundle version "${magic.text}"; this runledger reads ${BUNDLE_MAGIC}`, { field: 'bundle' });
    }
    if (looksLikeAlteredMagic(source)) {
      throw new BundleIntegrityError(`bundle header line (byte 0) is not "${BUNDLE_MAGIC}": the bundle was altered`, 'header', 0);
    }
    if (otherVersion) {
      throw new InputError(`unsupported bundle version "${magic.text}"; this runledger reads ${BUNDLE_MAGIC}`, { field: 'bundle' });
    }
    throw new InputError(`not a runledger bundle: the first line is not "${BUNDLE_MAGIC}"`, { field: 'bundle' });
  }
  // The first failure in file order names the section: a header whose length was lowered leaves its
  // payload failing its digest before the next header fails to frame, and it is that section's byte.
  const framing = (message: string, section: SectionName | 'end', at: number): BundleIntegrityError =>
    altered[0] ?? new BundleIntegrityError(message, section, at);
  let offset = magic.next;
  const sections: Partial<BundleSections> = {};
  const ranges: Partial<Record<SectionName, SectionRange>> = {};
  hashRange(source, 0, offset, [whole]);
  for (const name of SECTION_NAMES) {
    const header = readLine(source, offset, MAX_HEADER);
    if (header === undefined) {
      const why = offset >= source.size ? 'the bundle ends before it' : 'its header line is missing or too long';
      throw framing(`bundle section "${name}" at byte ${offset}: ${why}`, name, offset);
    }
    const match = HEADER.exec(header.text);
    if (!match) {
      throw framing(`bundle section "${name}" at byte ${offset}: header line is not "<name> <length> <sha256>"`, name, offset);
    }
    if (match[1] !== name) {
      throw framing(`bundle section "${name}" at byte ${offset}: found section "${match[1]}" where "${name}" belongs`, name, offset);
    }
    const length = Number(match[2]);
    const start = header.next;
    if (start + length + 1 > source.size) {
      throw framing(`bundle section "${name}" at byte ${offset}: declares ${length} bytes, but the bundle ends first`, name, offset);
    }
    if (source.read(start + length, 1)[0] !== NEWLINE) {
      throw framing(`bundle section "${name}" at byte ${offset}: its payload is not ${length} bytes followed by a newline`, name, offset);
    }
    const digest = createHash('sha256');
    hashRange(source, offset, start, [whole]);
    hashRange(source, start, start + length, [whole, digest]);
    hashRange(source, start + length, start + length + 1, [whole]);
    if (digest.digest('hex') !== match[3]) {
      altered.push(new BundleIntegrityError(`bundle section "${name}" (bytes ${start}–${start + length}): content does not match its SHA-256 digest: the section (its payload or its header's length) was altered`, name, start));
    }
    if (!STREAMED_SECTIONS.has(name)) sections[name] = Buffer.from(source.read(start, length));
    ranges[name] = { start, length };
    offset = start + length + 1;
  }
  const end = readLine(source, offset, 68);
  const match = end === undefined ? null : END.exec(end.text);
  if (end === undefined || match === null) {
    throw framing(`bundle end line at byte ${offset} is missing or is not "end <sha256>"`, 'end', offset);
  }
  if (end.next !== source.size) {
    throw framing(`bundle has ${source.size - end.next} bytes after its end line`, 'end', end.next);
  }
  if (!whole.digest().equals(Buffer.from(match[1]!, 'hex'))) {
    altered.push(new BundleIntegrityError(`bundle end line at byte ${offset}: the digest of the bundle does not match; the bundle was altered`, 'end', offset));
  }
  return { sections, ranges: ranges as Record<SectionName, SectionRange>, altered };
}
