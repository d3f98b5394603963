// How ledger events and runledger's own records are kept in KurrentDB events, and back. Pure.
// A ledger event is a binary (application/octet-stream) event whose data is the envelope's RFC 8785
// bytes exactly, with the envelope's id and type: the client never re-serialises it, so readers get
// the bytes that were hashed. Everything read back is checked against where KurrentDB says it is.
import type { Envelope } from '../../../events/envelope.js';
import { IntegrityError } from '../../errors.js';
import { leafHash } from '../../integrity/hasher.js';
import type { RecordedEvent, StoredCheckpoint } from '../port.js';
import type { SealedEvent } from '../seal.js';
import type { LedgerStreams } from './streams.js';

/** A KurrentDB `$all` coordinate, as the client types it. */
export interface KurrentPosition {
  commit: bigint;
  prepare: bigint;
}

/**
 * runledger's position of a KurrentDB event: its prepare position, the log offset of its own record.
 * Unique per event and increasing in `$all` order for events written by single appends (the only
 * kind runledger writes; commit = prepare for each of them unless the server commits a multi-stream
 * append as one transaction, when the transaction's events share the commit and keep distinct
 * prepares). Readers check the increase (readAllPage) rather than assume it.
 */
export function positionNumber(position: KurrentPosition | undefined, where: string): number {
  if (!position) throw new IntegrityError(`${where} has no $all position: the server did not report one`);
  const n = Number(position.prepare);
  if (!Number.isSafeInteger(n) || n < 0 || position.commit < position.prepare) {
    throw new IntegrityError(`${where} has $all position ${position.commit}/${position.prepare}, which runledger cannot use as a position`);
  }
  return n;
}

/**
 * Where to start a forward `$all` read or subscription so that every event with position > `after`
 * is included: (after, after). An event of a later append has commit ≥ prepare > after. The event
 * at `after` itself may be included (reads from a position are inclusive); callers drop it.
 */
export function readFrom(after: number): KurrentPosition {
  const at = BigInt(after);
  return { commit: at, prepare: at };
}

/** The event runledger appends for a sealed ledger event. */
export function ledgerEventData(row: SealedEvent): { id: string; contentType: 'application/octet-stream'; type: string; data: Uint8Array; metadata: undefined } {
  return { id: row.envelope.id, contentType: 'application/octet-stream', type: row.envelope.type, data: row.canonical, metadata: undefined };
}

/** What the client hands out for an event of a stream or of `$all` (the fields runledger reads). */
export interface KurrentRecord {
  streamId: string;
  id: string;
  revision: bigint;
  type: string;
  isJson: boolean;
  data: unknown;
  position?: KurrentPosition;
}

/**
 * A ledger event read back, checked: binary data that parses as an envelope whose id, stream and
 * revision are the ones KurrentDB recorded it under. `index` comes from the tree (tree.ts).
 */
export function recordedEvent(record: KurrentRecord, streams: LedgerStreams, index: number | null): RecordedEvent {
  const where = `event ${record.id} at revision ${record.revision} of KurrentDB stream "${record.streamId}"`;
  const stream = streams.ledgerStream(record.streamId);
  if (stream === undefined) throw new IntegrityError(`${where} is not in this ledger's streams (prefix "${streams.eventPrefix}")`);
  if (record.isJson || !(record.data instanceof Uint8Array)) {
    throw new IntegrityError(`${where} is not a runledger event: its data is not the binary canonical envelope`, { stream });
  }
  const canonical = Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength);
  let envelope: Envelope;
  try {
    envelope = JSON.parse(canonical.toString('utf8')) as Envelope;
  } catch {
    throw new IntegrityError(`${where} is not valid JSON`, { stream, eventId: record.id });
  }
  const revision = Number(record.revision);
  if (envelope?.id !== record.id || envelope.stream !== stream || envelope.revision !== revision) {
    throw new IntegrityError(
      `${where} holds an envelope of stream "${String(envelope?.stream)}" revision ${String(envelope?.revision)} id ${String(envelope?.id)}: it was not written by runledger's append`,
      { stream, revision, eventId: record.id },
    );
  }
  return { position: positionNumber(record.position, where), index, envelope, canonical, leafHash: leafHash(canonical).toString('hex') };
}

/** An id claim: which stream and revision an event id was recorded at, and its content digest. */
export interface IdClaim {
  stream: string;
  revision: number;
  contentDigest: string;
}

export const CLAIM_TYPE = 'runledger.id-claim';
export const TREE_TYPE = 'runledger.tree';
export const CHECKPOINT_TYPE = 'runledger.checkpoint';
export const META_TYPE = 'runledger.meta';
export const POSITION_TYPE = 'runledger.position';
export const STREAM_TYPE = 'runledger.stream';

function jsonRecord(record: KurrentRecord, type: string): Record<string, unknown> {
  if (record.type !== type || !record.isJson || typeof record.data !== 'object' || record.data === null || Array.isArray(record.data)) {
    throw new IntegrityError(`event ${record.id} of KurrentDB stream "${record.streamId}" is not a ${type} record`);
  }
  return record.data as Record<string, unknown>;
}

export function idClaim(record: KurrentRecord): IdClaim {
  const data = jsonRecord(record, CLAIM_TYPE);
  if (typeof data.stream !== 'string' || !Number.isSafeInteger(data.revision) || typeof data.contentDigest !== 'string') {
    throw new IntegrityError(`id claim in KurrentDB stream "${record.streamId}" is malformed`);
  }
  return { stream: data.stream, revision: data.revision as number, contentDigest: data.contentDigest };
}

export function storedCheckpoint(record: KurrentRecord): StoredCheckpoint {
  const data = jsonRecord(record, CHECKPOINT_TYPE);
  if (!Number.isSafeInteger(data.size) || typeof data.root !== 'string' || typeof data.note !== 'string' || typeof data.createdAt !== 'string') {
    throw new IntegrityError(`checkpoint event ${record.id} at revision ${record.revision} of "${record.streamId}" is malformed`);
  }
  return { size: data.size as number, root: data.root, note: data.note, createdAt: data.createdAt };
}

/** The `value` of a meta, position or stream-registry record. */
export function recordValue<T extends 'string' | 'number'>(record: KurrentRecord, type: string, kind: T): T extends 'string' ? string : number {
  const value = jsonRecord(record, type).value;
  if (typeof value !== kind) throw new IntegrityError(`event ${record.id} of KurrentDB stream "${record.streamId}" has no ${kind} value`);
  return value as T extends 'string' ? string : number;
}
