// Appending parsed NDJSON events (src/ledger/append-input.ts) through the run-stream door: what
// `runledger append` and the HTTP API's POST /api/events both do, so the two accept and refuse
// exactly the same input with the same sentences. Errors name the input line ("stdin line 3",
// "request body line 3").
import { ConcurrencyError, InputError } from '../errors.js';
import type { AppendInput } from '../ledger/append-input.js';
import { prepareFrozenBatch, type PreparedRequest } from '../store/seal.js';
import type { EventStore } from '../store/port.js';
import { guardedAppendPrepared, refuseRecorderTypes, type RunHeads } from './guarded-append.js';

export interface AppendReport {
  /** Events recorded by this call (0 for an idempotent retry). */
  appended: number;
  /** Every event was already recorded with identical content. */
  duplicate: boolean;
  streams: number;
  firstPosition: number | undefined;
  lastPosition: number | undefined;
}

/** Input that `checkAppendInput` accepted, with the batch it validated: `appendInput` appends exactly that. */
export interface CheckedAppendInput {
  input: AppendInput;
  prepared: readonly PreparedRequest[];
}

/**
 * Stamps each event's `metadata.actor` (unless the event names one), refuses the recorder's types and
 * validates every event, naming its line — before any store is touched. Throws InputError. The batch
 * is validated here once: the door and the store append it as checked (`prepareFrozenBatch`).
 */
export function checkAppendInput(input: AppendInput, source: string, actor: string): CheckedAppendInput {
  for (const request of input.requests) {
    for (const event of request.events) event.metadata = { actor, ...event.metadata };
  }
  const describe = (r: number, e: number): string => `${source} line ${input.lines[r]![e]}`;
  refuseRecorderTypes(input.requests, { describe });
  return { input, prepared: prepareFrozenBatch(input.requests, { describe }) };
}

/** Appends checked input atomically through the write rules; a failed expectedRevision is an InputError naming its line. */
export async function appendInput(store: EventStore, checked: CheckedAppendInput, source: string, options: { heads?: RunHeads } = {}): Promise<AppendReport> {
  const { input, prepared } = checked;
  const describe = (r: number, e: number): string => `${source} line ${input.lines[r]![e]}`;
  let result;
  try {
    // The run-stream door: plan and stage events are the recorder's; every other event on a run
    // stream is checked against the run's state and appended at the revision checked.
    result = await guardedAppendPrepared(store, prepared, { describe, ...(options.heads ? { heads: options.heads } : {}) });
  } catch (err) {
    if (err instanceof ConcurrencyError) {
      const r = input.requests.findIndex((q) => q.stream === err.stream && q.expectedRevision !== undefined);
      const line = r >= 0 ? input.lines[r]![0] : undefined;
      throw new InputError(`${line !== undefined ? `${source} line ${line}: ` : ''}${err.message}; nothing was appended`, { stream: err.stream, ...(line !== undefined ? { line } : {}) });
    }
    throw err;
  }
  return {
    appended: result.duplicate ? 0 : input.events,
    duplicate: result.duplicate,
    streams: new Set(result.streams.map((st) => st.stream)).size,
    firstPosition: result.positions[0],
    lastPosition: result.positions[result.positions.length - 1],
  };
}
