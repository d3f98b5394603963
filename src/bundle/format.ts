// The bundle container (docs/bundle-format.md): a magic line, five length-prefixed sections in a
// fixed order, each with the SHA-256 of its payload, and an end line with the SHA-256 of every
// byte before it. Framing is parsed strictly, so any changed byte is caught and attributed: a
// changed payload fails its section digest, a changed header breaks the framing of that section,
// a changed end line fails the end digest, and anything after the end line is refused.
import { InputError, IntegrityError } from '../errors.js';
import { sha256, sha256Hex } from '../integrity/hasher.js';

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
function looksLikeAlteredMagic(bytes: Buffer): boolean {
  const expected = Buffer.from(`${BUNDLE_MAGIC}\nmanifest `, 'ascii');
  if (bytes.length < expected.length + 70) return false;
  let differences = 0;
  for (let i = 0; i < expected.length; i++) if (bytes[i] !== expected[i]) differences++;
  return differences > 0 && differences <= 2;
}

/**
 * Every version of the format ends with `end <sha256 of every byte before it>\n`. A file that does,
 * intact, was written as it is: another version, not an altered version 1 (a changed byte in the
 * magic line would fail that digest).
 */
function hasIntactEndLine(bytes: Buffer): boolean {
  const start = bytes.length - END_LINE_LENGTH;
  if (start < 1 || bytes[bytes.length - 1] !== NEWLINE) return false;
  if (bytes[start - 1] !== NEWLINE) return false;
  const match = END.exec(bytes.subarray(start, bytes.length - 1).toString('latin1'));
  return match !== null && sha256(bytes.subarray(0, start)).equals(Buffer.from(match[1]!, 'hex'));
}

/** Reads one line (without its newline) starting at `offset`, at most `max` bytes; undefined when there is none. */
function readLine(bytes: Buffer, offset: number, max: number): { text: string; next: number } | undefined {
  const limit = Math.min(bytes.length, offset + max + 1);
  for (let i = offset; i < limit; i++) {
    if (bytes[i] === NEWLINE) {
      const raw = bytes.subarray(offset, i);
      // Framing is ASCII; any other byte is a changed byte, not a different encoding.
      for (const b of raw) if (b < 0x20 || b > 0x7e) return { text: '\u0000', next: i + 1 };
      return { text: raw.toString('ascii'), next: i + 1 };
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
  const altered: BundleIntegrityError[] = [];
  const magic = readLine(bytes, 0, 40);
  if (magic === undefined || magic.text !== BUNDLE_MAGIC) {
    const otherVersion = magic !== undefined && VERSION_LINE.test(magic.text);
    if (otherVersion && hasIntactEndLine(bytes)) {
      throw new InputError(`unsupported bundle version "${magic.text}"; this runledger reads ${BUNDLE_MAGIC}`, { field: 'bundle' });
    }
    if (looksLikeAlteredMagic(bytes)) {
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
  for (const name of SECTION_NAMES) {
    const header = readLine(bytes, offset, MAX_HEADER);
    if (header === undefined) {
      const why = offset >= bytes.length ? 'the bundle ends before it' : 'its header line is missing or too long';
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
    if (start + length + 1 > bytes.length) {
      throw framing(`bundle section "${name}" at byte ${offset}: declares ${length} bytes, but the bundle ends first`, name, offset);
    }
    const payload = bytes.subarray(start, start + length);
    if (bytes[start + length] !== NEWLINE) {
      throw framing(`bundle section "${name}" at byte ${offset}: its payload is not ${length} bytes followed by a newline`, name, offset);
    }
    if (sha256Hex(payload) !== match[3]) {
      altered.push(new BundleIntegrityError(`bundle section "${name}" (bytes ${start}–${start + length}): content does not match its SHA-256 digest: the section (its payload or its header's length) was altered`, name, start));
    }
    sections[name] = Buffer.from(payload);
    offset = start + length + 1;
  }
  const end = readLine(bytes, offset, 68);
  const match = end === undefined ? null : END.exec(end.text);
  if (end === undefined || match === null) {
    throw framing(`bundle end line at byte ${offset} is missing or is not "end <sha256>"`, 'end', offset);
  }
  if (end.next !== bytes.length) {
    throw framing(`bundle has ${bytes.length - end.next} bytes after its end line`, 'end', end.next);
  }
  if (!sha256(bytes.subarray(0, offset)).equals(Buffer.from(match[1]!, 'hex'))) {
    altered.push(new BundleIntegrityError(`bundle end line at byte ${offset}: the digest of the bundle does not match; the bundle was altered`, 'end', offset));
  }
  return { sections: sections as BundleSections, altered };
}
