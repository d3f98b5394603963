// The log side of C2SP tlog-witness: send a signed checkpoint to each witness with a consistency
// proof from the size the witness last cosigned (learned from its 409 answer), collect the
// cosignature lines and add them to the note. A witness that refuses says why in one sentence.
import { hex8, NoteError, parseNote } from '../integrity/note.js';
import { openCosignatures } from '../integrity/cosignature.js';
import { consistencyProofAsync } from '../integrity/proof.js';
import type { EventStore, StoredCheckpoint } from '../store/port.js';
import { formatAddCheckpoint } from './witness.js';

/** key ID (4) ‖ timestamp (8) ‖ Ed25519 signature (64): an Ed25519 cosignature/v1 line's bytes. */
const COSIGNATURE_V1_BYTES = 76;
const MAX_ATTEMPTS = 3;
/** A witness's answer is a few cosignature lines; a longer one is not read to its end. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface WitnessOutcome {
  url: string;
  /** cosigned: lines collected; refused: the witness checked and said no (exit 1); unavailable: no answer (exit 3). */
  result: 'cosigned' | 'refused' | 'unavailable';
  /** The old size the successful request was sent with. */
  oldSize?: number;
  /** HTTP status of the last answer. */
  status?: number;
  /** Witness names whose lines were added. */
  cosigners: string[];
  /** One sentence, for refused and unavailable. */
  reason?: string;
}

export interface WitnessOptions {
  /** Witness verifier keys: lines of these keys are verified before they are kept. */
  witnessKeys?: readonly string[];
  /** Sent as "Authorization: Bearer <token>" to every witness (one run with --token). */
  token?: string;
  timeoutMs?: number;
  /** How long a refused connection is retried (a witness still starting); default 3 s. */
  connectWaitMs?: number;
  fetch?: typeof fetch;
}

/**
 * Asks every witness to cosign `checkpoint` (a stored, log-signed checkpoint) and returns the note
 * with every new cosignature line added, plus what each witness answered. Never throws for what a
 * witness answers; store failures propagate.
 */
export async function witnessCheckpoint(store: EventStore, checkpoint: StoredCheckpoint, urls: readonly string[], options: WitnessOptions = {}): Promise<{ note: string; outcomes: WitnessOutcome[] }> {
  let note = checkpoint.note;
  const outcomes: WitnessOutcome[] = [];
  for (const url of urls) {
    const outcome = await askWitness(store, checkpoint, url, options);
    if (outcome.result === 'cosigned') {
      const merged = mergeCosignatures(note, outcome.lines, options.witnessKeys);
      if ('reason' in merged) {
        outcomes.push({ url, result: 'refused', status: 200, cosigners: [], reason: `witness ${url} answered with a cosignature that does not verify: ${merged.reason}` });
        continue;
      }
      note = merged.note;
      outcomes.push({ url, result: 'cosigned', oldSize: outcome.oldSize, status: 200, cosigners: merged.added });
    } else {
      outcomes.push({ url, ...outcome, cosigners: [] });
    }
  }
  return { note, outcomes };
}

type Answer = { result: 'cosigned'; oldSize: number; lines: string[] } | { result: 'refused' | 'unavailable'; status?: number; reason: string };

async function askWitness(store: EventStore, checkpoint: StoredCheckpoint, url: string, options: WitnessOptions): Promise<Answer> {
  const endpoint = `${url.replace(/\/+$/, '')}/add-checkpoint`;
  const doFetch = options.fetch ?? fetch;
  const leaves = async (from: number, to: number) => (await store.leafHashes(from, to)).map((h) => Buffer.from(h, 'hex'));
  let oldSize = 0;
  const connectUntil = Date.now() + (options.connectWaitMs ?? 3000);
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const proof = oldSize === 0 ? [] : await consistencyProofAsync(oldSize, checkpoint.size, leaves);
    let res: Response;
    let body: string;
    try {
      res = await doFetch(endpoint, {
        method: 'POST',
        body: formatAddCheckpoint(oldSize, proof, checkpoint.note),
        headers: { 'content-type': 'text/plain; charset=utf-8', ...(options.token !== undefined ? { authorization: `Bearer ${options.token}` } : {}) },
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      body = await boundedText(res, MAX_ANSWER_BYTES);
    } catch (err) {
      // A witness started a moment ago (`witness serve … & checkpoint --witness …`) may not listen yet.
      if (connectionRefused(err) && Date.now() < connectUntil) {
        await new Promise((r) => setTimeout(r, 200));
        attempt--;
        continue;
      }
      return { result: 'unavailable', reason: `witness ${url} did not answer: ${(err as Error).message}` };
    }
    const said = firstLine(body);
    const refused = (reason: string): Answer => ({ result: 'refused', status: res.status, reason: `witness ${url} refused checkpoint ${checkpoint.size}: ${reason}` });
    switch (res.status) {
      case 200:
        return { result: 'cosigned', oldSize, lines: body.split('\n').filter((l) => l !== '').map((l) => `${l}\n`) };
      case 409: {
        const size = /^(0|[1-9][0-9]*)$/.test(said) ? Number(said) : NaN;
        if (!Number.isSafeInteger(size)) return refused(`409 Conflict without a tree size ("${said}")`);
        if (size > checkpoint.size) return refused(`it has already cosigned a checkpoint of this log with ${size} leaves, more than this one has (the store was rolled back, or the log forked)`);
        if (size === oldSize) return refused(`it has cosigned a different tree of the same size ${size} (the log forked)`);
        oldSize = size; // retry with a proof from the size the witness holds
        continue;
      }
      case 422:
        return refused(`${said || 'the consistency proof does not verify'} (422)`);
      case 403:
        return refused(`it does not trust this log's key: ${said || 'no signature verifies'} (403; configure the witness with --log <this ledger's verifier key>)`);
      case 404:
        return refused(`${said || 'it does not witness this log origin'} (404)`);
      case 400:
        return refused(`${said || 'bad request'} (400)`);
      case 401:
        return refused(`it needs its token (401; pass --witness-token or set RUNLEDGER_WITNESS_TOKEN)`);
      case 413:
      case 421:
        return refused(`${said || `HTTP ${res.status}`} (${res.status})`);
      default:
        return { result: 'unavailable', status: res.status, reason: `witness ${url} answered HTTP ${res.status}${said ? `: ${said}` : ''}` };
    }
  }
  return { result: 'unavailable', reason: `witness ${url} kept answering 409 with a moving size after ${MAX_ATTEMPTS} attempts` };
}

/** The answer's text, failing once it passes `limit` bytes (a witness cannot make the log buffer without end). */
async function boundedText(res: Response, limit: number): Promise<string> {
  if (res.body === null) return '';
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > limit) {
      await reader.cancel();
      throw new Error(`its answer is longer than ${limit} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function connectionRefused(err: unknown): boolean {
  return (err as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
}

function firstLine(body: string): string {
  return (body.split('\n')[0] ?? '').slice(0, 300).trim();
}

/**
 * Adds a witness's lines to the note: only Ed25519 cosignature/v1-sized lines whose key is not
 * already on the note (a witness cannot add a line under the log's key name and ID, which would
 * make the note fail for every auditor); lines of `witnessKeys` must verify.
 */
function mergeCosignatures(note: string, lines: readonly string[], witnessKeys: readonly string[] | undefined): { note: string; added: string[] } | { reason: string } {
  let parsed;
  try {
    parsed = parseNote(`${note}${lines.join('')}`);
  } catch (err) {
    if (err instanceof NoteError) return { reason: err.message };
    throw err;
  }
  const existing = parseNote(note).signatures;
  const taken = new Set(existing.map((s) => `${s.name}+${s.keyId}`));
  const kept: string[] = [];
  const added: string[] = [];
  for (const line of parsed.signatures.slice(existing.length)) {
    const tag = `${line.name}+${line.keyId}`;
    if (taken.has(tag) || line.signature.length + 4 !== COSIGNATURE_V1_BYTES) continue;
    taken.add(tag);
    kept.push(`\u2014 ${line.name} ${line.base64}\n`);
    added.push(`${line.name} (${hex8(line.keyId)})`);
  }
  const merged = `${note}${kept.join('')}`;
  if (witnessKeys !== undefined && witnessKeys.length > 0) {
    try {
      openCosignatures(merged, witnessKeys);
    } catch (err) {
      if (err instanceof NoteError) return { reason: err.message };
      throw err;
    }
  }
  return { note: merged, added };
}
