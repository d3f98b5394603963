// The ledger's side of a training run on its own thread: the trainer hands each batch of signed events
// over and keeps computing while this thread passes it through the run-stream door (validation, every
// write rule, the worker signatures) and makes it durable in its own connection to the store. An
// event is acknowledged — its `append` promise resolves — only after the store's durable commit, and
// the trainer returns only once every batch it handed over is acknowledged (workers/trainer.ts).
// For the embedded store, whose commits (better-sqlite3, synchronous=FULL) would otherwise block the
// training thread for the whole door and fsync.
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ProposedEvent } from '../events/envelope.js';
import { ConcurrencyError, IdempotencyError, InputError, IntegrityError, UnavailableError, type ErrorLocation } from '../src/errors.js';
import type { EventStore } from '../src/store/port.js';
import type { TrainingEvent, TrainingSink } from './trainer.js';

/** A batch for the writer thread: `seq` pairs it with its acknowledgement. */
export interface WriteRequest {
  seq: number;
  stream: string;
  events: ProposedEvent[];
}

/** A refusal as it crosses the thread boundary: the typed error's class, sentence and location. */
export interface WriteFailure {
  name: string;
  message: string;
  location: ErrorLocation;
  concurrency?: { stream: string; expected: string | number; actual: number };
}

/** The thread's answer to a batch: durable (with the time it spent in the door), or refused. */
export type WriteAck = { seq: number; doorMs: number } | { seq: number; failure: WriteFailure };

/** Rebuilds the typed error the door or store threw on the writer thread. */
export function reviveFailure(f: WriteFailure): Error {
  switch (f.name) {
    case 'ConcurrencyError':
      return f.concurrency ? new ConcurrencyError(f.concurrency.stream, f.concurrency.expected, f.concurrency.actual) : new InputError(f.message, f.location);
    case 'IdempotencyError':
      return new IdempotencyError(f.message, f.location);
    case 'InputError':
      return new InputError(f.message, f.location);
    case 'IntegrityError':
      return new IntegrityError(f.message, f.location);
    case 'UnavailableError':
      return new UnavailableError(f.message, f.location);
    default:
      return new Error(f.message);
  }
}

export interface LedgerWriter {
  /** A sink appending to one run stream through the door on the writer thread. */
  sink(stream: string, actor: string): TrainingSink;
  /** Time the writer thread spent in the door (validation, rules, durable commit) so far. */
  readonly doorMs: number;
  /** Waits for every batch handed over, then closes the thread's store connection. */
  close(): Promise<void>;
}

/** The store URL a writer thread can open itself: a SQLite file (an in-memory ledger cannot be shared). */
export function writerStoreUrl(store: EventStore): string | null {
  if (store.kind !== 'sqlite') return null;
  const path = store.displayUrl.slice('sqlite:'.length);
  return path === ':memory:' || path === '' ? null : `sqlite:${resolve(path)}`;
}

/** Starts a writer thread on the store at `url` (sqlite:<path>). */
export function startLedgerWriter(url: string): LedgerWriter {
  const thread = new Worker(new URL('./ledger-writer-thread.js', import.meta.url), { workerData: { url } });
  const waiting = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  let seq = 0;
  let doorMs = 0;
  let broken: Error | null = null;
  // The thread keeps the process alive only while a batch awaits its acknowledgement.
  thread.unref();
  const settleAll = (err: Error): void => {
    broken ??= err;
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  thread.on('message', (ack: WriteAck) => {
    const w = waiting.get(ack.seq);
    if (!w) return;
    waiting.delete(ack.seq);
    if (waiting.size === 0) thread.unref();
    if ('failure' in ack) w.reject(reviveFailure(ack.failure));
    else {
      doorMs += ack.doorMs;
      w.resolve();
    }
  });
  thread.on('error', (err) => settleAll(new UnavailableError(`the ledger writer thread for ${url} failed: ${err.message}`)));
  thread.on('exit', (code) => settleAll(new UnavailableError(`the ledger writer thread for ${url} exited (code ${code}) before acknowledging every batch`)));
  const outstanding = new Set<Promise<void>>();
  const write = (stream: string, events: ProposedEvent[]): Promise<void> => {
    const acknowledged = new Promise<void>((resolve, reject) => {
      if (broken) return reject(broken);
      const request: WriteRequest = { seq: ++seq, stream, events };
      if (waiting.size === 0) thread.ref();
      waiting.set(request.seq, { resolve, reject });
      thread.postMessage(request);
    });
    const settled = acknowledged.then(
      () => void outstanding.delete(settled),
      () => void outstanding.delete(settled),
    );
    outstanding.add(settled);
    return acknowledged;
  };
  return {
    sink: (stream, actor) => ({
      overlapped: true,
      append: (events: TrainingEvent[]) => write(stream, events.map((e) => ({ type: e.type, data: e.data, metadata: { actor } }))),
    }),
    get doorMs() {
      return doorMs;
    },
    async close() {
      await Promise.all(outstanding);
      const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
      thread.ref();
      thread.postMessage('close');
      await exited;
    },
  };
}
