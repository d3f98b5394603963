// Small and large signed ledgers for the backup tests: batched appends of small custom.* events into
// any store, with signed checkpoints along the way (the home's key), as fast as the append path allows.
import { join } from 'node:path';
import type { ProposedEvent } from '../../events/envelope.js';
import { createCheckpoint } from '../../src/ledger/checkpoint.js';
import { ensureOrigin } from '../../src/ledger/origin.js';
import { ensureLedgerSigner, loadLedgerSigner } from '../../src/ledger/signer-state.js';
import { openStore } from '../../src/store/open.js';
import type { AppendRequest, EventStore } from '../../src/store/port.js';
import { freshHome } from '../support/cli.js';

export interface Seeded {
  home: string;
  store: EventStore;
  origin: string;
}

/** A home with a signing key and a store (default: the home's SQLite ledger), both initialised. */
export async function seededHome(url?: string): Promise<Seeded> {
  const home = freshHome('runledger-backup-');
  const store = await openStore(url ?? `sqlite:${join(home, 'ledger.db')}`);
  const { origin } = await ensureOrigin(store);
  ensureLedgerSigner(home, origin);
  return { home, store, origin };
}

/**
 * Appends `count` events over `streams` streams in batches of `batch`, signing a checkpoint every
 * `checkpointEvery` events and at the end (unless `unsigned` trailing events are asked for).
 */
export async function seedEvents(s: Seeded, count: number, options: { streams?: number; batch?: number; checkpointEvery?: number; from?: number; onBatch?: (done: number) => void } = {}): Promise<void> {
  const streams = options.streams ?? 10;
  const batch = options.batch ?? 5000;
  const every = options.checkpointEvery ?? count;
  const from = options.from ?? 0;
  for (let done = 0; done < count; ) {
    const n = Math.min(batch, count - done, every - (done % every));
    const byStream = new Map<string, ProposedEvent[]>();
    for (let i = 0; i < n; i++) {
      const k = from + done + i;
      const stream = `s-${k % streams}`;
      const list = byStream.get(stream) ?? [];
      list.push({ type: 'custom.sample', data: { k } });
      byStream.set(stream, list);
    }
    const requests: AppendRequest[] = [...byStream].map(([stream, events]) => ({ stream, events }));
    await s.store.appendBatch(requests);
    done += n;
    options.onBatch?.(done);
    if (done % every === 0 || done === count) await createCheckpoint(s.store, loadLedgerSigner(s.home), s.origin);
  }
}
