// Interop with the Go reference, golang.org/x/mod/sumdb/note: a checkpoint runledger signed and a
// witness cosigned opens with note.Open (Go parses the note and verifies the log's Ed25519 line
// itself; the cosignature/v1 line through a note.Verifier written in Go from the C2SP spec, since
// Go's package knows only type 0x01 keys), and a cosignature Go makes verifies in runledger.
// Skips, saying why, where `go` or the Go module proxy is missing. The binary is cached in the OS
// temp directory, keyed by the program's hash and the pinned module version.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signCheckpoint } from '../../src/integrity/checkpoint.js';
import { cosignerKeyFromSeed, openCosignatures, parseCosignerKey } from '../../src/integrity/cosignature.js';
import { sha256 } from '../../src/integrity/hasher.js';
import { noteKeyFromSeed, parseNote, parseSignerKey } from '../../src/integrity/note.js';
import { repoRoot } from '../support/cli.js';

const X_MOD = 'golang.org/x/mod@v0.43.0';
const SOURCE = join(repoRoot, 'test', 'witness', 'go', 'main.go');

/** The interop binary, built once per program version; or the reason it cannot be. */
function interopBinary(): { path: string } | { skip: string } {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) return { skip: 'no `go` on PATH (install Go to run the golang.org/x/mod/sumdb/note interop test)' };
  const key = createHash('sha256').update(readFileSync(SOURCE)).update(X_MOD).update(go.stdout).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), `runledger-go-interop-${key}`);
  const binary = join(dir, 'interop');
  if (existsSync(binary)) return { path: binary };
  const work = `${dir}.${process.pid}`;
  mkdirSync(work, { recursive: true });
  copyFileSync(SOURCE, join(work, 'main.go'));
  const run = (args: string[]) => spawnSync('go', args, { cwd: work, encoding: 'utf8', timeout: 240_000, env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' } });
  for (const args of [['mod', 'init', 'runledger.test/interop'], ['get', X_MOD], ['build', '-o', 'interop', '.']]) {
    const res = run(args);
    if (res.status !== 0) return { skip: `\`go ${args.join(' ')}\` failed (is the Go module proxy reachable?): ${(res.stderr || res.error?.message || '').trim().split('\n')[0]}` };
  }
  mkdirSync(dir, { recursive: true });
  renameSync(join(work, 'interop'), binary);
  rmSync(work, { recursive: true, force: true });
  return { path: binary };
}

describe('witness: interop with golang.org/x/mod/sumdb/note', function () {
  this.timeout(300_000);
  let binary: string;
  before(function () {
    const built = interopBinary();
    if ('skip' in built) {
      console.log(`      skipped: ${built.skip}`);
      this.skip();
    }
    binary = built.path;
  });

  const origin = 'example.com/interop-log';
  const log = noteKeyFromSeed(origin, Buffer.alloc(32, 1));
  const wit = cosignerKeyFromSeed('witness.example/interop', Buffer.alloc(32, 2));
  const body = signCheckpoint(origin, 42, sha256(Buffer.from('root')), parseSignerKey(log.signerKey));
  const cosigned = `${body}${parseCosignerKey(wit.signerKey).cosign(parseNote(body).text, 1_750_000_000)}`;

  it('note.Open verifies both the log signature and the runledger cosignature, and Go\'s cosignature verifies in runledger', () => {
    const out = JSON.parse(execFileSync(binary, [log.verifierKey, wit.verifierKey], { input: cosigned, encoding: 'utf8' })) as { signers: string[]; goCosigned: string; goWitnessKey: string };
    assert.deepEqual(out.signers, [`${origin}+${log.verifierKey.split('+')[1]}`, `witness.example/interop+${wit.verifierKey.split('+')[1]}`]);
    const [fromGo] = openCosignatures(out.goCosigned, [out.goWitnessKey]).cosignatures;
    assert.deepEqual([fromGo?.name, fromGo?.timestamp], ['go.example/witness', 1234567890]);
  });

  it('note.Open rejects the cosigned note once its body or the cosignature changes', () => {
    const altered = cosigned.replace('\n42\n', '\n43\n');
    const lines = cosigned.split('\n');
    const cosig = lines[lines.length - 2]!;
    const flipped = cosigned.replace(cosig, `${cosig.slice(0, -6)}${cosig.slice(-6, -5) === 'A' ? 'B' : 'A'}${cosig.slice(-5)}`);
    for (const bad of [altered, flipped]) {
      const res = spawnSync(binary, [log.verifierKey, wit.verifierKey], { input: bad, encoding: 'utf8' });
      assert.equal(res.status, 1, `Go accepted: ${bad}`);
    }
  });
});
