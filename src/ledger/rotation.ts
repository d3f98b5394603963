// `runledger keys rotate`: replace the home's ledger signing key with a new one, verifiably.
//
// 1. pending   a new key, the rotation statement (signed by both keys) and the LedgerKeyRotated event
//              are written to keys/rotation.pending (0600, fsynced) — from now on nothing else signs;
// 2. appended  the event is appended to the `ledger.keys` stream (idempotent by event id);
// 3. signed    the transition checkpoint — the tree including the event — is signed by BOTH keys in
//              one note and recorded in the signer state, then stored (createCheckpoint's order);
// 4. switched  keys/signing.key is replaced by the new key (rename), then signing.vkey;
// 5. done      the pending file is removed.
// Each step is one atomic file operation or an idempotent store write, so a crash anywhere leaves a
// state the next `keys rotate` resumes from. The signer state never needs to "move": after step 3 it
// holds the transition note, which opens with the old key and with the new one alike.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { KEY_STREAM, type LedgerKeyRotatedData } from '../../events/ledger.js';
import { InputError, IntegrityError } from '../errors.js';
import { canonicalize } from '../integrity/canonical.js';
import { openRotationStatement, signRotationStatement } from '../integrity/key-rotation.js';
import { generateNoteKey, NoteError, openNote, parseSignerKey } from '../integrity/note.js';
import type { EventStore, StoredCheckpoint } from '../store/port.js';
import { createCheckpoint } from './checkpoint.js';
import { keyPaths, readKeyFile, replaceFileAtomically, writeNewFileAtomically } from './keys.js';
import { ledgerSigner, readSignerState, withFileLock, type LedgerSigner } from './signer-state.js';

export type RotationStep = 'pending' | 'appended' | 'signed' | 'switched' | 'done';

export interface RotateOptions {
  /** metadata.actor of the LedgerKeyRotated event. */
  actor: string;
  /** Called after each durable step (tests stop here to simulate a crash). */
  onStep?: (step: RotationStep) => void;
}

export interface RotationOutcome {
  previousKey: string;
  key: string;
  /** The transition checkpoint, signed by both keys. */
  transition: StoredCheckpoint;
  eventId: string;
  /** True when an interrupted rotation was finished rather than a new one started. */
  resumed: boolean;
}

const Pending = z
  .object({
    origin: z.string().min(1),
    previousKey: z.string().min(1),
    signerKey: z.string().startsWith('PRIVATE+KEY+'),
    statement: z.string().min(1),
    event: z.object({ id: z.string().uuid(), recordedAt: z.string(), actor: z.string().min(1) }).strict(),
  })
  .strict();
type Pending = z.infer<typeof Pending>;

function readPending(file: string): Pending | undefined {
  if (!existsSync(file)) return undefined;
  const parsed = Pending.safeParse(safeJson(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new InputError(`${file} is not a key rotation record runledger wrote (${parsed.error.issues[0]?.message ?? 'invalid'}): restore it, or move it aside if signing.key still holds the old key`, { file });
  }
  return parsed.data;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Rotates the home's signing key, or finishes a rotation a crash interrupted. */
export async function rotateKey(home: string, store: EventStore, origin: string, options: RotateOptions): Promise<RotationOutcome> {
  const paths = keyPaths(home);
  const step = (s: RotationStep) => options.onStep?.(s);
  return withFileLock(join(paths.dir, 'rotation.lock'), async () => {
    const oldText = readKeyFile(paths.signer, `no signing key at ${paths.signer}: run "runledger init" with this home (or pass --home)`);
    let pending = readPending(paths.rotation);
    const resumed = pending !== undefined;
    if (pending === undefined) {
      const old = ledgerSigner(oldText, paths.state, paths.signer);
      if (readSignerState(old) === undefined) {
        throw new InputError(`cannot rotate: signer state ${paths.state} is missing, so what the old key signed is unknown; run "runledger checkpoint --adopt" first`, { file: paths.state });
      }
      const next = generateNoteKey(origin);
      const statement = signRotationStatement(origin, { signer: old.note, verifierKey: old.verifierKey }, { signer: parseSignerKey(next.signerKey), verifierKey: next.verifierKey });
      pending = { origin, previousKey: old.verifierKey, signerKey: next.signerKey, statement, event: { id: randomUUID(), recordedAt: new Date().toISOString(), actor: options.actor } };
      if (!writeNewFileAtomically(paths.rotation, `${canonicalize(pending)}\n`)) throw new InputError(`${paths.rotation} appeared while rotating: run "runledger keys rotate" again`, { file: paths.rotation });
      step('pending');
    }
    if (pending.origin !== origin) throw new IntegrityError(`the key rotation under way (${paths.rotation}) is for log origin "${pending.origin}", not this store's "${origin}"`, { file: paths.rotation });
    const rotation = openRotationStatement(pending.statement);
    const next = ledgerSigner(pending.signerKey, paths.state);
    const current = parseSignerKey(oldText);
    const switched = current.keyId === next.note.keyId && current.name === next.note.name;
    const old = switched ? undefined : ledgerSigner(oldText, paths.state, paths.signer);
    if (old !== undefined && old.verifierKey !== rotation.previousKey) {
      throw new IntegrityError(`${paths.signer} holds neither the key the rotation under way retires nor its successor: restore the old key, or move ${paths.rotation} aside`, { file: paths.signer });
    }

    if (old !== undefined) {
      const data: LedgerKeyRotatedData = { previousKey: rotation.previousKey, key: rotation.key, statement: pending.statement };
      await store.appendBatch([
        {
          stream: KEY_STREAM,
          events: [{ id: pending.event.id, type: 'LedgerKeyRotated', schemaVersion: 1, data, metadata: { recordedAt: pending.event.recordedAt, actor: pending.event.actor, correlationId: null, causationId: null } }],
        },
      ]);
      step('appended');
      if (!signedByNewKey(old, next)) {
        await createCheckpoint(store, old, origin, { transition: next.note, onSigned: () => step('signed') });
        if (!signedByNewKey(old, next)) throw new IntegrityError(`the transition checkpoint was not signed: the old key had already signed the tree holding the rotation event; move ${paths.rotation} aside and report this`);
      }
    }
    // Stores the transition note if a crash kept it from the store (and signs newer events with the new key).
    await createCheckpoint(store, next, origin);
    const transition = await transitionCheckpoint(store, rotation.previousKey, next);
    if (old !== undefined) {
      replaceFileAtomically(paths.signer, `${pending.signerKey.trim()}\n`);
      step('switched');
    }
    replaceFileAtomically(paths.verifier, `${next.verifierKey}\n`, 0o644);
    unlinkSync(paths.rotation);
    step('done');
    return { previousKey: rotation.previousKey, key: rotation.key, transition, eventId: pending.event.id, resumed };
  });
}

/** True when the signer state already holds a note the new key signed (the transition). */
function signedByNewKey(old: LedgerSigner, next: LedgerSigner): boolean {
  const head = readSignerState(old);
  if (head === undefined) return false;
  try {
    openNote(head.note, [next.verifierKey]);
    return true;
  } catch (err) {
    if (err instanceof NoteError) return false;
    throw err;
  }
}

/** The stored checkpoint signed by both keys. */
async function transitionCheckpoint(store: EventStore, previousKey: string, next: LedgerSigner): Promise<StoredCheckpoint> {
  for (const c of await store.checkpoints()) {
    try {
      const opened = openNote(c.note, [previousKey, next.verifierKey]);
      if (opened.verified.length === 2) return c;
    } catch (err) {
      if (!(err instanceof NoteError)) throw err;
    }
  }
  throw new IntegrityError('the transition checkpoint signed by both keys is not in the store after the rotation');
}
