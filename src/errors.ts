// Typed errors carry what a user needs (file, line, field, stream, revision, index) and map
// to the CLI's exit codes: 1 verification/gate failure, 2 bad input, 3 store/service unavailable.

export interface ErrorLocation {
  file?: string;
  line?: number;
  field?: string;
  stream?: string;
  revision?: number;
  index?: number;
  eventId?: string;
}

export abstract class LedgerError extends Error {
  abstract readonly exitCode: 1 | 2 | 3;
  constructor(
    message: string,
    readonly location: ErrorLocation = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Malformed input: an event, plan, policy, bundle or command line. Nothing was written. */
export class InputError extends LedgerError {
  readonly exitCode = 2 as const;
}

/** Optimistic concurrency failed: the stream was not at the expected revision. Nothing was written. */
export class ConcurrencyError extends LedgerError {
  readonly exitCode = 2 as const;
  constructor(
    readonly stream: string,
    readonly expected: string | number,
    readonly actual: number,
  ) {
    super(
      `stream "${stream}" is at revision ${actual < 0 ? 'none (no stream)' : actual}, expected ${expected}`,
      { stream },
    );
  }
}

/** Same event id recorded before with different content: a retry must be byte-for-byte the same request. */
export class IdempotencyError extends InputError {}

/** Recomputed evidence disagrees with what was recorded or signed. */
export class IntegrityError extends LedgerError {
  readonly exitCode = 1 as const;
}

/** A store, broker or service cannot be reached or opened. Never silently replaced. */
export class UnavailableError extends LedgerError {
  readonly exitCode = 3 as const;
}
