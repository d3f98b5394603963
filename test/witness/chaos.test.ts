// Chaos for the witnessing roles, loopback only and bounded (a fixed number of rounds): the witness
// process and the integrator (`checkpoint --witness`) are SIGKILLed at random moments. Afterwards:
// nothing acknowledged is lost (every cosignature `checkpoint` reported is stored and verifies, the
// witness never goes back below a size it cosigned), nothing is signed twice for one size (one root
// and one ledger signature per size), and work resumes (the next rounds cosign and verify).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCosignatures } from '../../src/integrity/cosignature.js';
import { parseNote } from '../../src/integrity/note.js';
import { openStore } from '../../src/store/open.js';
import { cliPath, freshHome, runCli } from '../support/cli.js';

interface Served {
  child: ChildProcess;
  url: string;
  key: string;
}

/** Starts `runledger witness serve --port 0`, resolving once it prints its JSON report. */
function serveWitness(home: string, logKey: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, 'witness', 'serve', '--port', '0', '--home', home, '--log', logKey, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`witness did not start: ${out}`)), 30_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      try {
        const report = JSON.parse(out) as { url: string; verifierKey: string };
        clearTimeout(timer);
        resolve({ child, url: report.url, key: report.verifierKey });
      } catch {
        /* not whole yet */
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`witness exited ${code}: ${out}`));
    });
  });
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Runs the CLI, SIGKILLing it after `killAfterMs` when given; resolves with its exit code (null when killed). */
function checkpointRun(env: Record<string, string>, url: string, killAfterMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, 'checkpoint', '--json', '--witness', url], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    // 'close', not 'exit': exit can fire before the last of stdout has been read (seen under load).
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function witnessSize(home: string): number {
  // Per-log state files are named by the SHA-256 of the origin; a witness killed mid-write may leave
  // its temporary file (.<random>.tmp) beside them, which the witness itself never reads.
  const files = readdirSync(join(home, 'logs')).filter((name) => /^[0-9a-f]{64}$/.test(name));
  return files.length === 0 ? 0 : (JSON.parse(readFileSync(join(home, 'logs', files[0]!), 'utf8')) as { size: number }).size;
}

describe('witness: chaos — kill the witness or the integrator mid-work', function () {
  this.timeout(300_000);
  const ROUNDS = 10;
  let served: Served | undefined;
  after(async () => {
    if (served) await kill(served.child);
  });

  it(`loses nothing acknowledged, signs nothing twice for one size, and resumes (${ROUNDS} rounds)`, async () => {
    const home = freshHome('rl-chaos-');
    const env = { RUNLEDGER_HOME: home };
    assert.equal((await runCli(['init'], { env })).code, 0);
    const logKey = (await runCli(['keys', 'show'], { env })).stdout.trim();
    const witnessHome = mkdtempSync(join(tmpdir(), 'rl-chaos-witness-'));
    served = await serveWitness(witnessHome, logKey);
    const acknowledged: { size: number; note: string }[] = [];
    let highest = 0;
    let seed = 0x5eed;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < ROUNDS; round++) {
      const input = Array.from({ length: 3 }, (_, i) => JSON.stringify({ stream: `s-${round % 2}`, type: 'custom.x', data: { round, i } })).join('\n');
      assert.equal((await runCli(['append', '-'], { env, input })).code, 0);
      const mode = round % 3; // 0: calm, 1: kill the witness, 2: kill the integrator
      const delay = Math.floor(random() * 400);
      const running = checkpointRun(env, served.url, mode === 2 ? delay : undefined);
      if (mode === 1) setTimeout(() => void kill(served!.child), delay);
      const res = await running;
      if (res.code === 0) {
        const report = JSON.parse(res.stdout) as { size: number; note: string; witnesses: { result: string }[] };
        assert.equal(report.witnesses[0]!.result, 'cosigned');
        acknowledged.push({ size: report.size, note: report.note });
      } else {
        assert.ok(res.code === null || res.code === 3, `checkpoint ended ${res.code}: ${res.stderr}`);
      }
      if (mode === 1) {
        await kill(served.child);
        served = await serveWitness(witnessHome, logKey);
      }
      const size = witnessSize(witnessHome);
      assert.ok(size >= highest, `the witness went back from ${highest} to ${size}`);
      highest = size;
    }
    // Work resumes: a calm round cosigns everything so far.
    const final = await checkpointRun(env, served.url);
    assert.equal(final.code, 0, final.stderr);
    const finalReport = JSON.parse(final.stdout) as { size: number };
    assert.equal(finalReport.size, 3 * ROUNDS);
    assert.equal(witnessSize(witnessHome), 3 * ROUNDS);
    assert.ok(acknowledged.length >= 3, `only ${acknowledged.length} rounds were acknowledged`);

    const store = await openStore(`sqlite:${join(home, 'ledger.db')}`);
    try {
      const stored = await store.checkpoints();
      for (const ack of acknowledged) {
        assert.ok(stored.some((c) => c.note === ack.note), `acknowledged cosigned checkpoint ${ack.size} is not in the store`);
        assert.equal(openCosignatures(ack.note, [served.key]).cosignatures.length, 1);
      }
      const bySize = new Map<number, string>();
      for (const c of stored) {
        const parsed = parseNote(c.note);
        const identity = `${parsed.text}|${parsed.signatures[0]!.base64}`;
        assert.ok((bySize.get(c.size) ?? identity) === identity, `size ${c.size} was signed twice differently`);
        bySize.set(c.size, identity);
      }
    } finally {
      await store.close();
    }
    const verified = await runCli(['verify', '--witness-key', served.key], { env });
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  });
});
