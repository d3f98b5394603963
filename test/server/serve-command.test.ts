// `runledger serve` as a user runs it: a child process on an ephemeral port, bound to loopback,
// answering the JSON API, refusing traversal, and stopping cleanly on SIGTERM.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { cliPath, repoRoot, runCli } from '../support/cli.js';
import { runStream } from '../../src/governance/recorder.js';
import { defaultStoreUrl, openStore } from '../../src/store/open.js';
import { freshLedger, populate, telemetry } from './fixture.js';

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('runledger serve', function () {
  let home: string;
  let child: ChildProcess | undefined;

  before(async function () {
    const ledger = await freshLedger();
    await populate(ledger);
    await ledger.close();
    home = ledger.home;
  });
  afterEach(function () {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('serves the API on 127.0.0.1, sees another process\'s appends within 2 s, and stops on SIGTERM with exit 0', async function () {
    child = spawn(process.execPath, [cliPath, '--home', home, 'serve', '--port', '0'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child!.stderr!.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        const found = /dashboard on (http:\/\/127\.0\.0\.1:\d+)\//.exec(stderr);
        if (found) resolve(found[1]!);
      });
      child!.on('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
    });
    assert.match(stderr, /read-only/);
    const port = Number(new URL(url).port);
    const runs = await get(port, '/api/runs');
    assert.equal(runs.status, 200);
    assert.deepEqual((JSON.parse(runs.body) as { runs: { runId: string }[] }).runs.map((r) => r.runId).sort(), ['base-1', 'base-2', 'cand-1']);
    // Another process (this one) records telemetry: the server's store subscription sees it within 2 s.
    const writer = await openStore(defaultStoreUrl(home));
    try {
      const started = Date.now();
      await writer.append(runStream('cand-1'), telemetry('cand-1', 10, 3));
      let steps: number[] = [];
      while (steps.length < 3 && Date.now() - started < 2000) {
        await new Promise((r) => setTimeout(r, 50));
        steps = (JSON.parse((await get(port, '/api/runs/cand-1/telemetry?after=9')).body) as { points: { step: number }[] }).points.map((p) => p.step);
      }
      assert.deepEqual(steps, [10, 11, 12], `after ${Date.now() - started} ms`);
    } finally {
      await writer.close();
    }
    const passwd = await get(port, '/../../etc/passwd');
    assert.equal(passwd.status, 404);
    assert.doesNotMatch(passwd.body, /root:/);
    const exited = new Promise<number | null>((resolve) => child!.on('exit', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  it('refuses a short token and a malformed port with exit 2', async function () {
    const short = await runCli(['--home', home, 'serve', '--port', '0', '--token', 'abc']);
    assert.equal(short.code, 2);
    assert.match(short.stderr, /--token must be at least 16 characters/);
    const bad = await runCli(['--home', home, 'serve', '--port', 'http']);
    assert.equal(bad.code, 2);
  });

  it('points at runledger init when the home has no ledger', async function () {
    const empty = await runCli(['--home', `${home}-missing`, 'serve', '--port', '0']);
    assert.equal(empty.code, 3, empty.stderr);
    assert.match(empty.stderr, /runledger init/);
  });
});
