// `witness serve` follows the rules `serve` follows (docs/security.md): loopback unless a token or
// --insecure-public says otherwise, the Host check and one Host header, bodies bounded and refused
// when not UTF-8, slow requests closed, the token checked in constant time. Probed with raw sockets.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signCheckpoint } from '../../src/integrity/checkpoint.js';
import { cosignerKeyFromSeed, parseCosignerKey } from '../../src/integrity/cosignature.js';
import { leafHash } from '../../src/integrity/hasher.js';
import { noteKeyFromSeed, parseSignerKey } from '../../src/integrity/note.js';
import { LIMITS } from '../../src/input/limits.js';
import { openStore } from '../../src/store/open.js';
import { witnessCheckpoint } from '../../src/witness/client.js';
import { startWitnessServer, type WitnessServer } from '../../src/witness/server.js';
import { formatAddCheckpoint, Witness, type WitnessedHead } from '../../src/witness/witness.js';
import { freshHome, runCli } from '../support/cli.js';
import { rawRequest } from '../support/raw-http.js';

const ORIGIN = 'example.com/log';
const log = noteKeyFromSeed(ORIGIN, Buffer.alloc(32, 7));
const cosigner = cosignerKeyFromSeed('witness.example/w1', Buffer.alloc(32, 9));
const TOKEN = 'witness-token-0123456789';
const body = formatAddCheckpoint(0, [], signCheckpoint(ORIGIN, 1, leafHash(Buffer.from('leaf 0')), parseSignerKey(log.signerKey)));

const post = (headers: string[], payload: string | Buffer = body, target = '/add-checkpoint'): Buffer =>
  Buffer.concat([Buffer.from(`POST ${target} HTTP/1.1\r\n${[...headers, `Content-Length: ${Buffer.byteLength(payload)}`].join('\r\n')}\r\nConnection: close\r\n\r\n`), Buffer.isBuffer(payload) ? payload : Buffer.from(payload)]);

describe('witness serve: hostile-input rules', function () {
  this.timeout(60_000);
  const servers: WitnessServer[] = [];
  let heads: Map<string, WitnessedHead>;
  const start = async (options: Partial<Parameters<typeof startWitnessServer>[1]> = {}): Promise<number> => {
    heads = new Map();
    const witness = new Witness({ cosigner: parseCosignerKey(cosigner.signerKey), logs: new Map([[ORIGIN, [log.verifierKey]]]), state: { read: (o) => heads.get(o), write: (h) => void heads.set(h.origin, h) } });
    const server = await startWitnessServer(witness, { port: 0, ...options });
    servers.push(server);
    return Number(new URL(server.url).port);
  };
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });

  it('answers loopback Host names only on a loopback bind, and refuses duplicate Host headers and absolute-form targets', async () => {
    const port = await start();
    assert.equal((await rawRequest(port, [post([`Host: 127.0.0.1:${port}`])])).status, 200);
    const evil = await rawRequest(port, [post(['Host: evil.example'])]);
    assert.equal(evil.status, 421);
    assert.match(evil.text, /this witness only answers requests for localhost, not "evil.example" \(witness serve --allowed-host adds names\)/);
    assert.equal((await rawRequest(port, [post(['Host: 192.168.1.5'])])).status, 421);
    assert.equal((await rawRequest(port, [post(['Host: localhost', 'Host: evil.example'])])).status, 400);
    assert.equal((await rawRequest(port, [post(['Host: localhost'], body, 'http://evil.example/add-checkpoint')])).status, 400);
    assert.equal(heads.size, 1, 'only the one accepted request changed the state');
  });

  it('refuses a body over the limit (413) without storing anything, and a body that is not UTF-8 (400)', async () => {
    const port = await start();
    const big = await rawRequest(port, [post(['Host: localhost'], Buffer.alloc(LIMITS.requestBodyBytes + 1, 0x61))]);
    assert.equal(big.status, 413);
    assert.match(big.text, /over the limit of/);
    const bad = Buffer.concat([Buffer.from(body.slice(0, 10)), Buffer.from([0xff, 0xfe]), Buffer.from(body.slice(10))]);
    const notUtf8 = await rawRequest(port, [post(['Host: localhost'], bad)]);
    assert.equal(notUtf8.status, 400);
    assert.match(notUtf8.text, /not valid UTF-8/);
    assert.equal(heads.size, 0);
  });

  it('closes a request that arrives too slowly', async () => {
    const port = await start({ requestTimeoutMs: 400 });
    const payload = post(['Host: localhost']);
    const slow = await rawRequest(port, [payload.subarray(0, 40), payload.subarray(40, 60)], { gapMs: 1500, waitMs: 4000 });
    assert.notEqual(slow.status, 200);
    assert.ok(slow.closedAfterMs !== null && slow.closedAfterMs < 3500, `closed after ${slow.closedAfterMs} ms`);
    assert.equal(heads.size, 0);
  });

  it('with a token, cosigns only requests that carry it', async () => {
    const port = await start({ token: TOKEN });
    const none = await rawRequest(port, [post(['Host: localhost'])]);
    assert.equal(none.status, 401);
    assert.match(none.text, /needs its token/);
    assert.equal((await rawRequest(port, [post(['Host: localhost', 'Authorization: Bearer wrong-token-wrong-token'])])).status, 401);
    assert.equal(heads.size, 0);
    assert.equal((await rawRequest(port, [post(['Host: localhost', `Authorization: Bearer ${TOKEN}`])])).status, 200);
    assert.equal(heads.size, 1);
  });

  it('refuses to listen beyond loopback without --token or --insecure-public (exit 2, nothing written)', async () => {
    const home = mkdtempSync(join(tmpdir(), 'rl-witness-public-'));
    const res = await runCli(['witness', 'serve', '--port', '0', '--host', '0.0.0.0', '--home', home, '--log', log.verifierKey]);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /--host 0\.0\.0\.0 listens beyond loopback: pass --token .* or --insecure-public/);
    const empty = await runCli(['witness', 'serve', '--port', '0', '--host', '', '--home', home, '--log', log.verifierKey]);
    assert.equal(empty.code, 2);
    const short = await runCli(['witness', 'serve', '--port', '0', '--token', 'short', '--home', home, '--log', log.verifierKey]);
    assert.equal(short.code, 2);
    assert.match(short.stderr, /at least 16 characters/);
    assert.deepEqual(readdirSync(home), [], 'a witness that must not start writes nothing');
  });

  it('beyond loopback with a token, answers IP-address Hosts and still needs the token', async () => {
    const port = await start({ host: '0.0.0.0', token: TOKEN });
    assert.equal((await rawRequest(port, [post(['Host: 10.0.0.7:8790'])])).status, 401);
    assert.equal((await rawRequest(port, [post(['Host: 10.0.0.7:8790', `Authorization: Bearer ${TOKEN}`])])).status, 200);
    assert.equal((await rawRequest(port, [post(['Host: witness.evil.example', `Authorization: Bearer ${TOKEN}`])])).status, 421);
  });

  it('checkpoint --witness sends --witness-token (or RUNLEDGER_WITNESS_TOKEN); without it the operator is told why (exit 1)', async () => {
    const home = freshHome('rl-witness-token-');
    const env = { RUNLEDGER_HOME: home };
    assert.equal((await runCli(['init'], { env })).code, 0);
    assert.equal((await runCli(['append', '-'], { env, input: JSON.stringify({ stream: 'lab-t', type: 'custom.x', data: { i: 1 } }) })).code, 0);
    const vkey = (await runCli(['keys', 'show'], { env })).stdout.trim();
    heads = new Map();
    const witness = new Witness({ cosigner: parseCosignerKey(cosigner.signerKey), logs: new Map([[vkey.split('+')[0]!, [vkey]]]), state: { read: (o) => heads.get(o), write: (h) => void heads.set(h.origin, h) } });
    const server = await startWitnessServer(witness, { port: 0, token: TOKEN });
    servers.push(server);
    const without = await runCli(['checkpoint', '--witness', server.url], { env });
    assert.equal(without.code, 1, without.stderr);
    assert.match(without.stderr, /refused checkpoint 1: it needs its token \(401; pass --witness-token or set RUNLEDGER_WITNESS_TOKEN\)/);
    const withFlag = await runCli(['checkpoint', '--witness', server.url, '--witness-token', TOKEN], { env });
    assert.equal(withFlag.code, 0, withFlag.stderr);
    assert.equal(heads.size, 1);
    assert.equal((await runCli(['append', '-'], { env, input: JSON.stringify({ stream: 'lab-t', type: 'custom.x', data: { i: 2 } }) })).code, 0);
    const withEnv = await runCli(['checkpoint', '--witness', server.url], { env: { ...env, RUNLEDGER_WITNESS_TOKEN: TOKEN } });
    assert.equal(withEnv.code, 0, withEnv.stderr);
    assert.equal(heads.get(vkey.split('+')[0]!)?.size, 2);
  });

  it('checkpoint --witness retries a refused connection briefly, for a witness still starting (witness serve … & checkpoint --witness …)', async () => {
    const home = freshHome('rl-witness-late-');
    const env = { RUNLEDGER_HOME: home };
    assert.equal((await runCli(['init'], { env })).code, 0);
    const vkey = (await runCli(['keys', 'show'], { env })).stdout.trim();
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    heads = new Map();
    const witness = new Witness({ cosigner: parseCosignerKey(cosigner.signerKey), logs: new Map([[vkey.split('+')[0]!, [vkey]]]), state: { read: (o) => heads.get(o), write: (h) => void heads.set(h.origin, h) } });
    assert.equal((await runCli(['checkpoint'], { env })).code, 0);
    const store = await openStore(`sqlite:${join(home, 'ledger.db')}`);
    try {
      const [checkpoint] = await store.checkpoints();
      const late = new Promise<void>((r) => setTimeout(r, 1000)).then(async () => void servers.push(await startWitnessServer(witness, { port })));
      const [asked] = await Promise.all([witnessCheckpoint(store, checkpoint!, [`http://127.0.0.1:${port}`]), late]);
      assert.deepEqual(asked.outcomes.map((o) => o.result), ['cosigned']);
    } finally {
      await store.close();
    }
    assert.equal(heads.size, 1);
  });
});
