// The KurrentDB streams one ledger owns, all named `<ledger>:<kind>…` (docs/stores.md, "KurrentDB").
// User streams may be any name that does not start with `$` (those are system streams, writable by
// admins only), so runledger uses none: a ledger needs no more than a user's write access.
export interface LedgerStreams {
  /** Prefix of the ledger's event streams: the `$all` filter of reads, subscriptions and the integrator. */
  readonly eventPrefix: string;
  /** The KurrentDB stream holding ledger stream `stream`. */
  event(stream: string): string;
  /** The ledger stream a KurrentDB event stream holds; undefined for any other stream. */
  ledgerStream(kurrentStream: string): string | undefined;
  /** One stream per event id, created with the event in the same atomic append: the id index. */
  claim(eventId: string): string;
  /** The integrator's records: leaf positions and compact range, one event per integration step. */
  readonly tree: string;
  readonly checkpoints: string;
  /** Ledger stream names, one event per stream created, for listStreams. */
  readonly registry: string;
  meta(key: string): string;
  position(consumer: string): string;
}

export function ledgerStreams(ledger: string): LedgerStreams {
  const eventPrefix = `${ledger}:s:`;
  return {
    eventPrefix,
    event: (stream) => `${eventPrefix}${stream}`,
    ledgerStream: (name) => (name.startsWith(eventPrefix) ? name.slice(eventPrefix.length) : undefined),
    claim: (eventId) => `${ledger}:id:${eventId}`,
    tree: `${ledger}:tree`,
    checkpoints: `${ledger}:checkpoints`,
    registry: `${ledger}:streams`,
    meta: (key) => `${ledger}:meta:${key}`,
    position: (consumer) => `${ledger}:position:${consumer}`,
  };
}
