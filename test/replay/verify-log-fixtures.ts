// Logs sealed exactly as the stores seal them, and the tampered variants the log verifier must
// pinpoint. Shared by the single-threaded and the parallel verifier tests.
import type { Envelope } from '../../events/envelope.js';
import { CanonicalText, canonicalBytes, canonicalize } from '../../src/integrity/canonical.js';
import { signCheckpoint } from '../../src/integrity/checkpoint.js';
import { rootOfLeaves } from '../../src/integrity/compact-range.js';
import { leafHash } from '../../src/integrity/hasher.js';
import { noteKeyFromSeed, parseSignerKey } from '../../src/integrity/note.js';
import type { VerifyLogOptions } from '../../src/replay/verify-log.js';
import type { RecordedEvent, StoredCheckpoint } from '../../src/store/port.js';
import { sealEvent, type PreparedEvent } from '../../src/store/seal.js';

/** The RFC 8785 text of an envelope whose data is the given raw JSON text (canonicalize splices CanonicalText verbatim). */
export function withDataText(envelope: object, dataText: string): string {
  return canonicalize({ ...envelope, data: new CanonicalText(dataText) });
}


export const ORIGIN = 'test.runledger/log';
export const KEY = noteKeyFromSeed(ORIGIN, Buffer.alloc(32, 11));
export const SIGNER = parseSignerKey(KEY.signerKey);
/** Stream of each leaf, in leaf order: three interleaved streams. */
export const PLAN = ['run-a', 'run-b', 'run-a', 'run-c', 'run-b', 'run-a', 'run-a', 'run-c', 'run-b', 'run-a'];
export const CHECKPOINT_SIZES = [3, 7, 10];

export const eventId = (i: number): string => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;

function prepared(i: number): PreparedEvent {
  return {
    id: eventId(i),
    type: 'custom.sample',
    schemaVersion: 1,
    data: { step: i, loss: 1 / (i + 1), tags: ['x', i % 2 === 0 ? 'even' : 'odd'] },
    metadata: { actor: 'tester', correlationId: 'corr-1', causationId: null },
    contentDigest: 'unused',
  };
}

/** A log sealed exactly as the stores seal it. */
export function buildLog(plan: readonly string[] = PLAN): RecordedEvent[] {
  const heads = new Map<string, { revision: number; leafHash: string }>();
  return plan.map((stream, i) => {
    const head = heads.get(stream);
    const recordedAt = new Date(Date.UTC(2026, 10, 23, 10, 0, 0) + i * 1000).toISOString();
    const sealed = sealEvent(stream, head === undefined ? 0 : head.revision + 1, head?.leafHash ?? null, prepared(i), recordedAt);
    heads.set(stream, { revision: sealed.envelope.revision, leafHash: sealed.leafHash });
    return { position: i + 1, index: i, envelope: sealed.envelope, canonical: sealed.canonical, leafHash: sealed.leafHash };
  });
}

export function checkpointAt(events: readonly RecordedEvent[], size: number, options: { origin?: string; root?: Buffer; signer?: typeof SIGNER } = {}): StoredCheckpoint {
  const root = options.root ?? rootOfLeaves(events.slice(0, size).map((e) => Buffer.from(e.leafHash, 'hex')));
  const note = signCheckpoint(options.origin ?? ORIGIN, size, root, options.signer ?? SIGNER);
  return { size, root: root.toString('hex'), note, createdAt: '2026-11-23T10:01:00.000Z' };
}

/** Verification options whose checkpoints were signed over the untampered log (buildLog is deterministic). */
export function options(overrides: Partial<VerifyLogOptions> = {}): VerifyLogOptions {
  const clean = buildLog();
  return { checkpoints: CHECKPOINT_SIZES.map((size) => checkpointAt(clean, size)), verifierKeys: [KEY.verifierKey], origin: ORIGIN, ...overrides };
}

/** Replaces event i by one whose envelope is changed and whose bytes and leaf hash are recomputed to match. */
export function reseal(events: RecordedEvent[], i: number, change: (envelope: Envelope) => void): void {
  const envelope = structuredClone(events[i]!.envelope);
  change(envelope);
  const canonical = canonicalBytes(envelope);
  events[i] = { ...events[i]!, envelope, canonical, leafHash: leafHash(canonical).toString('hex') };
}

export function withBytes(events: RecordedEvent[], i: number, text: string): void {
  events[i] = { ...events[i]!, canonical: Buffer.from(text, 'utf8') };
}

/**
 * Replaces event i's data by raw JSON text no runledger writer records (a store written by other
 * means), with bytes, returned envelope and leaf hash all recomputed to match.
 */
export function withStoredData(events: RecordedEvent[], i: number, dataText: string): void {
  const text = withDataText(events[i]!.envelope, dataText);
  const canonical = Buffer.from(text, 'utf8');
  events[i] = { ...events[i]!, envelope: JSON.parse(text) as Envelope, canonical, leafHash: leafHash(canonical).toString('hex') };
}

export const nested = (levels: number): string => '['.repeat(levels) + ']'.repeat(levels);

/** Stored data canonicalize refuses: each must be a `bytes` divergence at its leaf, never an exception. */
export const HOSTILE_DATA: [string, string, RegExp][] = [
  ['a lone surrogate', '{"s":"\\ud800x"}', /lone surrogate/],
  ['a lone low surrogate in a member name', '{"\\udc00":1}', /lone surrogate/],
  ['data nested 20,000 levels', `{"a":${nested(20_000)}}`, /nesting deeper than 65 levels/],
  ['data nested one level deeper than the limit', `{"a":${nested(64)}}`, /nesting deeper than 65 levels/],
];

/** Every change to an envelope field the verifier must notice. */
export const ENVELOPE_CHANGES: [string, (e: Envelope) => void][] = [
  ['id', (e) => void (e.id = eventId(99))],
  ['stream', (e) => void (e.stream = 'run-z')],
  ['revision', (e) => void (e.revision += 1)],
  ['type', (e) => void (e.type = 'custom.other')],
  ['schemaVersion', (e) => void (e.schemaVersion = 2)],
  ['data', (e) => void (e.data.step = -1)],
  ['metadata.recordedAt', (e) => void (e.metadata.recordedAt = '2030-01-01T00:00:00.000Z')],
  ['metadata.actor', (e) => void (e.metadata.actor = 'mallory')],
  ['metadata.correlationId', (e) => void (e.metadata.correlationId = null)],
  ['metadata.causationId', (e) => void (e.metadata.causationId = 'x')],
  ['prevHash', (e) => void (e.prevHash = 'f'.repeat(64))],
];

export interface TamperCase {
  name: string;
  events: RecordedEvent[];
  options: VerifyLogOptions;
}

function tampered(name: string, change: (events: RecordedEvent[]) => void, overrides: (events: RecordedEvent[]) => Partial<VerifyLogOptions> = () => ({})): TamperCase {
  const events = buildLog();
  change(events);
  return { name, events, options: options(overrides(buildLog())) };
}

/** The tamper matrix: each log (with its options) fails verification at a known first divergence. */
export function tamperCases(): TamperCase[] {
  const cases: TamperCase[] = [
    tampered('a byte changed inside the canonical bytes', (ev) => withBytes(ev, 4, ev[4]!.canonical.toString('utf8').replace('"actor":"tester"', '"actor":"mallory"'))),
    tampered('bytes and envelope changed together, leaf hash kept', (ev) => {
      const original = ev[5]!.leafHash;
      reseal(ev, 5, (e) => void (e.data.loss = 0));
      ev[5] = { ...ev[5]!, leafHash: original };
    }),
    tampered('a recorded leaf hash altered on its own', (ev) => void (ev[2] = { ...ev[2]!, leafHash: '0'.repeat(64) })),
    tampered('a recorded leaf hash that is not a string', (ev) => void (ev[2] = { ...ev[2]!, leafHash: undefined as unknown as string })),
    tampered('an event rewritten with a matching leaf hash', (ev) => reseal(ev, 5, (e) => void (e.data.step = 99))),
    tampered('the last event of a stream rewritten', (ev) => reseal(ev, 9, (e) => void (e.data.step = 99))),
    tampered('the first event rewritten', (ev) => reseal(ev, 0, (e) => void (e.data.step = 99))),
    tampered('bytes that are not JSON', (ev) => withBytes(ev, 1, ev[1]!.canonical.toString('utf8').slice(0, -1))),
    tampered('JSON not in canonical form', (ev) => withBytes(ev, 1, JSON.stringify(ev[1]!.envelope, null, 1))),
    tampered('bytes that are not UTF-8', (ev) => {
      const bytes = Buffer.from(ev[3]!.canonical);
      bytes[bytes.indexOf('tester')] = 0xff;
      ev[3] = { ...ev[3]!, canonical: bytes };
    }),
    tampered('bytes whose envelope breaks the schema', (ev) => reseal(ev, 6, (e) => void ((e as Record<string, unknown>).extra = true))),
    tampered('a returned envelope that is not an object', (ev) => void (ev[6] = { ...ev[6]!, envelope: 'x' as unknown as Envelope })),
    tampered('a skipped revision', (ev) => reseal(ev, 5, (e) => void (e.revision = 3))),
    // The byte scan leaves prevHash's digits to the chain check: a bad digit must still fail the content checks first.
    tampered('a prevHash in capitals, resealed', (ev) => reseal(ev, 5, (e) => void (e.prevHash = e.prevHash!.toUpperCase()))),
    tampered('a prevHash in capitals, leaf hash kept', (ev) => {
      const original = ev[5]!.leafHash;
      reseal(ev, 5, (e) => void (e.prevHash = e.prevHash!.toUpperCase()));
      ev[5] = { ...ev[5]!, leafHash: original };
    }),
    tampered('a prevHash that is not hex on a skipped revision', (ev) => reseal(ev, 5, (e) => void ((e.prevHash = 'g'.repeat(64)), (e.revision = 3)))),
    tampered('a first event whose prevHash is not hex', (ev) => reseal(ev, 0, (e) => void (e.prevHash = 'g'.repeat(64)))),
    tampered('a first event that claims a predecessor', (ev) => reseal(ev, 3, (e) => void (e.prevHash = ev[0]!.leafHash))),
    tampered('a gap in the leaf indices', (ev) => void ev.splice(4, 1)),
    tampered('a null leaf index', (ev) => void (ev[4] = { ...ev[4]!, index: null })),
    tampered('two events out of leaf order', (ev) => void ([ev[6], ev[7]] = [ev[7]!, ev[6]!])),
    tampered('two events swapped with renumbered indices', (ev) => void ([ev[1], ev[4]] = [{ ...ev[4]!, index: 1 }, { ...ev[1]!, index: 4 }])),
    tampered('two divergences, the earlier one reported', (ev) => {
      ev[8] = { ...ev[8]!, leafHash: 'f'.repeat(64) };
      ev[3] = { ...ev[3]!, leafHash: 'e'.repeat(64) };
    }),
    tampered('a content divergence after an index divergence', (ev) => {
      withBytes(ev, 6, 'not json');
      ev[5] = { ...ev[5]!, index: 50 };
    }),
    tampered('a truncated log', (ev) => void ev.splice(8)),
    tampered('a checkpoint whose signature was altered', () => undefined, (ev) => {
      const cp = checkpointAt(ev, 7);
      const note = cp.note.replace(/(\u2014 \S+ .{10})(.)/, (_, p: string, c: string) => p + (c === 'A' ? 'B' : 'A'));
      return { checkpoints: [checkpointAt(ev, 3), { ...cp, note }, checkpointAt(ev, 10)] };
    }),
    tampered('a checkpoint signed by an unknown key', () => undefined, (ev) => ({
      checkpoints: [checkpointAt(ev, 3), checkpointAt(ev, 7, { signer: parseSignerKey(noteKeyFromSeed(ORIGIN, Buffer.alloc(32, 12)).signerKey) })],
    })),
    tampered('a checkpoint for another origin', () => undefined, (ev) => ({ checkpoints: [checkpointAt(ev, 3, { origin: 'other.example/log' })] })),
    tampered('a stored size column that differs from the note', () => undefined, (ev) => ({ checkpoints: [{ ...checkpointAt(ev, 7), size: 6 }] })),
    tampered('a stored root column that differs from the note', () => undefined, (ev) => ({ checkpoints: [{ ...checkpointAt(ev, 7), root: checkpointAt(ev, 6).root }] })),
    tampered('a signed root the events do not produce', () => undefined, (ev) => ({
      checkpoints: [checkpointAt(ev, 3), checkpointAt(ev, 7, { root: rootOfLeaves(ev.slice(0, 6).map((e) => Buffer.from(e.leafHash, 'hex'))) })],
    })),
    tampered('checkpoints out of order', () => undefined, (ev) => ({ checkpoints: [checkpointAt(ev, 7), checkpointAt(ev, 3)] })),
    tampered('a checkpoint beyond the end of the log', () => undefined, (ev) => ({ checkpoints: [checkpointAt(ev, 10), checkpointAt(buildLog([...PLAN, 'run-a', 'run-b']), 12)] })),
    tampered('a malformed checkpoint note', () => undefined, (ev) => ({ checkpoints: [{ ...checkpointAt(ev, 3), note: 'garbage' }] })),
    ...HOSTILE_DATA.map(([name, text]) => tampered(`stored data with ${name}`, (ev) => withStoredData(ev, 5, text))),
    tampered('stored data with a __proto__ member', (ev) => withStoredData(ev, 5, '{"a":{"__proto__":{"polluted":true}}}')),
    // Not Number::toString spellings of their doubles (the byte scan decides these without String()):
    // a shorter decimal names the same double (0.1), and a nearer 17-digit one does (0.14285714285714285).
    tampered('stored data with a 17-digit number a shorter spelling names', (ev) => withStoredData(ev, 5, '{"loss":0.10000000000000001}')),
    tampered('stored data with a 17-digit number that is not the nearest spelling', (ev) => withStoredData(ev, 5, '{"loss":0.14285714285714284}')),
  ];
  for (const [field, change] of ENVELOPE_CHANGES) {
    cases.push(
      tampered(`${field} rewritten in the bytes, leaf hash kept`, (ev) => {
        const original = ev[4]!.leafHash;
        reseal(ev, 4, change);
        ev[4] = { ...ev[4]!, leafHash: original };
      }),
      tampered(`${field} rewritten only in the returned envelope`, (ev) => {
        const envelope = structuredClone(ev[4]!.envelope);
        change(envelope);
        ev[4] = { ...ev[4]!, envelope };
      }),
    );
  }
  return cases;
}
