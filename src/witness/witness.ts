// A C2SP tlog-witness (https://c2sp.org/tlog-witness): `add-checkpoint` verifies a log's checkpoint
// against the log's verifier keys and a consistency proof from the last checkpoint it cosigned for
// that origin, records the new one, then cosigns it (C2SP tlog-cosignature, cosignature/v1). The
// decision is pure; state is read and written through `WitnessState`, check and write together
// under one per-origin queue (the spec's atomicity rule: no interleaving can roll a log back).
import { openCheckpoint, parseCheckpoint, type Checkpoint } from '../integrity/checkpoint.js';
import type { Cosigner } from '../integrity/cosignature.js';
import { EMPTY_ROOT, HASH_SIZE } from '../integrity/hasher.js';
import { NoteError, parseNote, parseVerifierKey, type NoteVerifier } from '../integrity/note.js';
import { ProofError, verifyConsistency } from '../integrity/proof.js';

/** What the witness remembers per log: the latest checkpoint it cosigned. */
export interface WitnessedHead {
  origin: string;
  size: number;
  root: Buffer;
  /** The checkpoint note as submitted (with the log's signature), verbatim. */
  note: string;
}

export interface WitnessState {
  read(origin: string): WitnessedHead | undefined;
  /** Durable (fsynced) before it returns. */
  write(head: WitnessedHead): void;
  /** Keeps a refused but log-signed request as possible evidence of log misbehaviour (tlog-witness §add-checkpoint). */
  evidence?(origin: string, request: string, reason: string): void;
}

export interface WitnessResponse {
  status: 200 | 400 | 403 | 404 | 409 | 422 | 500;
  contentType: string;
  body: string;
}

/** The tlog-witness request body, parsed. */
export interface AddCheckpointRequest {
  oldSize: number;
  proof: Buffer[];
  /** The checkpoint note, verbatim. */
  note: string;
}

const TEXT = 'text/plain; charset=utf-8';
const SIZE_TYPE = 'text/x.tlog.size';
const DECIMAL = /^(0|[1-9][0-9]*)$/;
const MAX_PROOF_LINES = 63;

export class RequestError extends Error {}

/** tlog-witness §add-checkpoint: `old <size>\n`, ≤ 63 base64 hash lines, an empty line, the checkpoint. */
export function parseAddCheckpoint(body: string): AddCheckpointRequest {
  const lines: string[] = [];
  let at = 0;
  for (;;) {
    const end = body.indexOf('\n', at);
    if (end < 0) throw new RequestError('request body has no empty line before the checkpoint');
    const line = body.slice(at, end);
    at = end + 1;
    if (line === '') break;
    lines.push(line);
    if (lines.length > MAX_PROOF_LINES + 1) throw new RequestError(`request body has more than ${MAX_PROOF_LINES} consistency proof lines`);
  }
  const [oldLine, ...proofLines] = lines;
  if (oldLine === undefined || !oldLine.startsWith('old ')) throw new RequestError('request body does not start with an "old <size>" line');
  const oldText = oldLine.slice(4);
  if (!DECIMAL.test(oldText) || !Number.isSafeInteger(Number(oldText))) throw new RequestError(`old size "${oldText}" is not a decimal number without leading zeroes`);
  const proof = proofLines.map((line, i) => {
    const hash = Buffer.from(line, 'base64');
    if (hash.length !== HASH_SIZE || hash.toString('base64') !== line) throw new RequestError(`consistency proof line ${i + 1} is not the base64 of a ${HASH_SIZE}-byte hash`);
    return hash;
  });
  return { oldSize: Number(oldText), proof, note: body.slice(at) };
}

export function formatAddCheckpoint(oldSize: number, proof: readonly Buffer[], note: string): string {
  return `old ${oldSize}\n${proof.map((h) => `${h.toString('base64')}\n`).join('')}\n${note}`;
}

export interface WitnessOptions {
  cosigner: Cosigner;
  /** Per origin, the log's trusted verifier keys. */
  logs: ReadonlyMap<string, readonly string[]>;
  state: WitnessState;
  /** POSIX seconds; default the clock. */
  now?: () => number;
}

export class Witness {
  private readonly logs = new Map<string, NoteVerifier[]>();
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly options: WitnessOptions) {
    for (const [origin, keys] of options.logs) this.logs.set(origin, keys.map((k) => parseVerifierKey(k)));
  }

  get name(): string {
    return this.options.cosigner.name;
  }

  origins(): string[] {
    return [...this.logs.keys()];
  }

  /** Handles one add-checkpoint request body; never throws for anything a client sent. */
  async addCheckpoint(body: string): Promise<WitnessResponse> {
    let request: AddCheckpointRequest;
    let checkpoint: Checkpoint;
    try {
      request = parseAddCheckpoint(body);
      checkpoint = parseCheckpoint(parseNote(request.note).text);
    } catch (err) {
      if (err instanceof RequestError || err instanceof NoteError) return text(400, `${err.message}\n`);
      throw err;
    }
    const keys = this.logs.get(checkpoint.origin);
    if (keys === undefined) return text(404, `this witness does not witness log origin "${checkpoint.origin}"\n`);
    try {
      // Signatures from unknown keys are ignored; a trusted key's line that fails is a forgery.
      openCheckpoint(request.note, keys);
    } catch (err) {
      if (!(err instanceof NoteError)) throw err;
      return text(403, `the checkpoint is not signed by a key this witness trusts for "${checkpoint.origin}": ${err.message}\n`);
    }
    if (request.oldSize > checkpoint.size) return text(400, `old size ${request.oldSize} is larger than the checkpoint size ${checkpoint.size}\n`);
    return this.serialized(checkpoint.origin, () => this.decide(request, checkpoint, body));
  }

  private decide(request: AddCheckpointRequest, checkpoint: Checkpoint, body: string): WitnessResponse {
    const { state, cosigner } = this.options;
    const head = state.read(checkpoint.origin);
    const size = head?.size ?? 0;
    const root = head?.root ?? EMPTY_ROOT;
    if (request.oldSize !== size) return { status: 409, contentType: SIZE_TYPE, body: `${size}\n` };
    if (request.oldSize === 0 && request.proof.length > 0) return text(400, 'the consistency proof must be empty when the old size is 0\n');
    if (checkpoint.size === size) {
      if (!checkpoint.root.equals(root)) {
        state.evidence?.(checkpoint.origin, body, `same size ${size}, different root`);
        return { status: 409, contentType: SIZE_TYPE, body: `${size}\n` };
      }
    } else {
      try {
        verifyConsistency(size, checkpoint.size, root, checkpoint.root, request.proof);
      } catch (err) {
        if (!(err instanceof ProofError)) throw err;
        state.evidence?.(checkpoint.origin, body, err.message);
        return text(422, `the checkpoint of size ${checkpoint.size} is not consistent with the checkpoint of size ${size} this witness cosigned (RFC 9162 consistency proof: ${err.message})\n`);
      }
    }
    // Persist before answering: a cosignature is never handed out for a head the witness could forget.
    state.write({ origin: checkpoint.origin, size: checkpoint.size, root: checkpoint.root, note: request.note });
    const now = this.options.now?.() ?? Math.floor(Date.now() / 1000);
    return text(200, cosigner.cosign(parseNote(request.note).text, now));
  }

  private async serialized(origin: string, work: () => WitnessResponse): Promise<WitnessResponse> {
    const previous = this.queues.get(origin) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(work);
    const tail = run.catch(() => undefined);
    this.queues.set(origin, tail);
    void tail.then(() => {
      if (this.queues.get(origin) === tail) this.queues.delete(origin);
    });
    return run;
  }
}

function text(status: WitnessResponse['status'], body: string): WitnessResponse {
  return { status, contentType: TEXT, body };
}
