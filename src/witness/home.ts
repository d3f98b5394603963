// A witness's home directory (`runledger witness serve --home DIR`), private (0700):
//   witness.key             its cosignature/v1 signer key (0600), created on first use
//   logs/<sha256(origin)>   per log, the latest checkpoint it cosigned (JSON, replaced atomically, fsynced)
//   evidence/…              refused, log-signed requests: possible proof of a log's misbehaviour
//   witness.pid             the serving process, so two witnesses never share one state
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { IntegrityError, InputError, UnavailableError } from '../errors.js';
import { canonicalize } from '../integrity/canonical.js';
import { cosignerVerifierKeyOf, generateCosignerKey, parseCosignerKey, type Cosigner } from '../integrity/cosignature.js';
import { HASH_SIZE } from '../integrity/hasher.js';
import { ensurePrivateDir, KeyFileError, replaceFileAtomically, writeNewFileAtomically } from '../ledger/keys.js';
import { processRuns } from '../ledger/signer-state.js';
import type { WitnessedHead, WitnessState } from './witness.js';

const Head = z
  .object({
    origin: z.string().min(1),
    size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    root: z.string(),
    note: z.string(),
  })
  .strict();

export interface WitnessHome {
  dir: string;
  cosigner: Cosigner;
  verifierKey: string;
  state: WitnessState;
}

const logFile = (dir: string, origin: string) => join(dir, 'logs', createHash('sha256').update(origin, 'utf8').digest('hex'));

/** Opens (creating if needed) the witness home and its key; `name` names a new key. */
export function openWitnessHome(dir: string, name?: string): WitnessHome {
  ensurePrivateDir(dir);
  ensurePrivateDir(join(dir, 'logs'));
  const keyFile = join(dir, 'witness.key');
  if (!existsSync(keyFile)) {
    const pair = generateCosignerKey(name ?? `witness.runledger.local/${randomBytes(4).toString('hex')}`);
    writeNewFileAtomically(keyFile, `${pair.signerKey}\n`);
  }
  const text = readFileSync(keyFile, 'utf8');
  let cosigner: Cosigner;
  let verifierKey: string;
  try {
    cosigner = parseCosignerKey(text);
    verifierKey = cosignerVerifierKeyOf(text);
  } catch (err) {
    throw new KeyFileError(keyFile, (err as Error).message);
  }
  if (name !== undefined && name !== cosigner.name) {
    throw new InputError(`--name ${name} differs from the name of the existing witness key ${keyFile} ("${cosigner.name}"): a witness keeps its name`, { field: '--name' });
  }
  return { dir, cosigner, verifierKey, state: fileState(dir) };
}

function fileState(dir: string): WitnessState {
  return {
    read(origin: string): WitnessedHead | undefined {
      const file = logFile(dir, origin);
      if (!existsSync(file)) return undefined;
      let parsed;
      try {
        parsed = Head.parse(JSON.parse(readFileSync(file, 'utf8')));
      } catch (err) {
        throw new IntegrityError(`witness state ${file} is unreadable (${(err as Error).message}): restore it from a backup; a witness that lost its state must not cosign again under the same key`, { file });
      }
      const root = Buffer.from(parsed.root, 'base64');
      if (parsed.origin !== origin || root.length !== HASH_SIZE) throw new IntegrityError(`witness state ${file} is not the state of log "${origin}"`, { file });
      return { origin, size: parsed.size, root, note: parsed.note };
    },
    write(head: WitnessedHead): void {
      replaceFileAtomically(logFile(dir, head.origin), `${canonicalize({ origin: head.origin, size: head.size, root: head.root.toString('base64'), note: head.note })}\n`);
    },
    evidence(origin: string, request: string, reason: string): void {
      const evidence = join(dir, 'evidence');
      ensurePrivateDir(evidence);
      const file = join(evidence, `${createHash('sha256').update(origin, 'utf8').digest('hex').slice(0, 16)}-${Date.now()}-${randomBytes(3).toString('hex')}.txt`);
      writeNewFileAtomically(file, `# refused: ${reason}\n${request}`);
    },
  };
}

/** Claims the home for one serving process; returns its release. A live holder on this host is exit 3. */
export function claimWitnessHome(dir: string): () => void {
  const file = join(dir, 'witness.pid');
  const me = `${process.pid} ${hostname()}\n`;
  for (let attempt = 0; attempt < 2; attempt++) {
    if (writeNewFileAtomically(file, me)) {
      return () => {
        try {
          unlinkSync(file);
        } catch {
          /* already gone */
        }
      };
    }
    const [pid, host] = readFileSync(file, 'utf8').trim().split(' ');
    if (host === hostname() && pid !== undefined && /^\d+$/.test(pid) && !processRuns(Number(pid))) {
      unlinkSync(file);
      continue;
    }
    throw new UnavailableError(`witness home ${dir} is in use by process ${pid ?? '?'} on ${host ?? '?'} (${file}): one witness per home`, { file });
  }
  throw new UnavailableError(`cannot claim witness home ${dir}`);
}
