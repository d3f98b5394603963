// A stored event whose envelope is the JSON its canonical bytes spell, parsed on first read: what
// the embedded store hands out. The verifier, which parses the bytes itself, hands its parse over
// (`adoptParsedEnvelope`), so each event is decoded once; and since such an envelope cannot differ
// from the bytes, the verifier's "the store returns a different envelope" check holds by construction.
import type { Envelope } from '../../events/envelope.js';
import { IntegrityError } from '../errors.js';
import type { LoggedEvent, RecordedEvent } from './port.js';

const PARSED = Symbol('runledger.parsedEnvelope');

function parseCanonical(canonical: Buffer, position: number): Envelope {
  try {
    return JSON.parse(canonical.toString('utf8')) as Envelope;
  } catch {
    throw new IntegrityError(`event at position ${position} is not valid JSON`, { index: position });
  }
}

/**
 * A class, not an object literal with accessors: one shape for every record, the envelope accessor
 * on the prototype (a literal would allocate two closures per event and fall out of V8's fast mode).
 */
class CanonicalRecord implements LoggedEvent {
  [PARSED]: Envelope | undefined = undefined;

  constructor(
    readonly position: number,
    readonly index: number,
    readonly canonical: Buffer,
    readonly leafHash: string,
  ) {}

  get envelope(): Envelope {
    return (this[PARSED] ??= parseCanonical(this.canonical, this.position));
  }

  set envelope(value: Envelope) {
    this[PARSED] = value;
  }

  /** JSON of a record shows its envelope like any other field. */
  toJSON(): LoggedEvent {
    return { position: this.position, index: this.index, envelope: this.envelope, canonical: this.canonical, leafHash: this.leafHash };
  }
}

/** The event at `position` (= leaf `index`) with its bytes and recorded leaf hash; its envelope is decoded when first read. */
export function recordFromCanonical(position: number, index: number, canonical: Buffer, leafHash: string): LoggedEvent {
  return new CanonicalRecord(position, index, canonical, leafHash);
}

/**
 * For an event from `recordFromCanonical` whose envelope nobody has read or replaced: makes `parsed`
 * (the caller's JSON.parse of its unchanged canonical bytes) its envelope and returns true. Otherwise
 * false, and the caller compares envelopes as for any store.
 */
export function adoptParsedEnvelope(event: RecordedEvent, parsed: Envelope, canonical: Buffer): boolean {
  if (!(event instanceof CanonicalRecord) || event[PARSED] !== undefined || event.canonical !== canonical) return false;
  const record = event;
  record[PARSED] = parsed;
  return true;
}

/** Whether `event` is a record from `recordFromCanonical` whose envelope has not been read or replaced. */
export function envelopeIsFromBytes(event: RecordedEvent): boolean {
  return event instanceof CanonicalRecord && event[PARSED] === undefined;
}
