// A ledger's identity: its checkpoint origin line (C2SP tlog-checkpoint), kept in the store itself
// so every home that opens the store signs and verifies against the same origin.
import { randomUUID } from 'node:crypto';
import type { EventStore } from '../store/port.js';
import { UnavailableError } from '../errors.js';

export const ORIGIN_KEY = 'origin';

export async function ensureOrigin(store: EventStore): Promise<{ origin: string; created: boolean }> {
  const existing = await store.getMeta(ORIGIN_KEY);
  if (existing) return { origin: existing, created: false };
  const origin = `runledger.local/${randomUUID()}`;
  await store.setMeta(ORIGIN_KEY, origin);
  // Another process may have raced us; the stored value wins.
  const stored = (await store.getMeta(ORIGIN_KEY)) ?? origin;
  return { origin: stored, created: stored === origin };
}

export async function requireOrigin(store: EventStore): Promise<string> {
  const origin = await store.getMeta(ORIGIN_KEY);
  if (!origin) throw new UnavailableError(`store ${store.displayUrl} is not initialised: run "runledger init"`);
  return origin;
}
