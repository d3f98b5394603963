// The HTTP write API on `serve` (docs/http-api.md): POST /api/events takes what `runledger append`
// takes through the same door — token required (401/403), one atomic batch, idempotent by event id,
// the write rules applied, bad input refused naming its line with nothing written, bodies bounded
// (413), requests per client rate limited (429 with Retry-After). Every error is a one-sentence JSON body.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startServer, type DashboardServer } from '../../src/server/app.js';
import { TokenBuckets } from '../../src/server/rate-limit.js';
import { freshLedger, populate, type Ledger } from './fixture.js';

const TOKEN = 'write-api-test-token-0123456789';

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

async function post(server: DashboardServer, body: string, options: { token?: string | null; contentType?: string } = {}): Promise<Answer> {
  const token = options.token === undefined ? TOKEN : options.token;
  const res = await fetch(`${server.url}/api/events`, {
    method: 'POST',
    headers: { 'content-type': options.contentType ?? 'application/x-ndjson', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
}

const ndjson = (...events: unknown[]): string => events.map((e) => JSON.stringify(e)).join('\n') + '\n';
const note = (id: string, text: string, stream = 'lab-http'): unknown => ({ id, stream, type: 'custom.note', data: { text } });
const ID = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** One sentence: a non-empty `error` string with no line break, and nothing else in the body. */
function oneSentence(answer: Answer): string {
  assert.deepEqual(Object.keys(answer.json), ['error'], JSON.stringify(answer.json));
  const message = answer.json.error as string;
  assert.ok(message.length > 0 && !message.includes('\n'), message);
  return message;
}

describe('HTTP write API: POST /api/events', function () {
  this.timeout(60_000);
  let ledger: Ledger;
  let server: DashboardServer;
  let readOnly: DashboardServer;
  let small: DashboardServer;
  let limited: DashboardServer;

  before(async () => {
    ledger = await freshLedger();
    await populate(ledger);
    server = await startServer({ store: ledger.store, home: ledger.home, port: 0, pollMs: 20, token: TOKEN });
    readOnly = await startServer({ store: ledger.store, home: ledger.home, port: 0, pollMs: 20 });
    small = await startServer({ store: ledger.store, home: ledger.home, port: 0, pollMs: 20, token: TOKEN, eventsBodyBytes: 512 });
    limited = await startServer({ store: ledger.store, home: ledger.home, port: 0, pollMs: 20, token: TOKEN, rateLimit: { perSecond: 0.5, burst: 2 } });
  });
  after(async () => {
    for (const s of [server, readOnly, small, limited]) await s?.close();
    await ledger?.close();
  });

  it('refuses every write on a read-only server (403) and without the right token (401), writing nothing', async () => {
    const body = ndjson(note(ID(1), 'hello'));
    const ro = await post(readOnly, body);
    assert.equal(ro.status, 403);
    assert.match(oneSentence(ro), /read-only/);
    for (const token of [null, 'wrong', `${TOKEN.slice(0, -1)}x`, `${TOKEN}0`]) {
      const answer = await post(server, body, { token });
      assert.equal(answer.status, 401, `token ${token}`);
      assert.match(oneSentence(answer), /bearer token/);
      assert.equal(answer.headers.get('www-authenticate'), 'Bearer realm="runledger"');
    }
    assert.equal(await ledger.store.streamRevision('lab-http'), -1);
  });

  it('appends a batch atomically and answers an identical retry as a duplicate that records nothing', async () => {
    const body = ndjson(note(ID(1), 'one'), note(ID(2), 'two'), note(ID(3), 'three', 'lab-other'));
    const first = await post(server, body);
    assert.equal(first.status, 200, JSON.stringify(first.json));
    assert.equal(first.json.appended, 3);
    assert.equal(first.json.duplicate, false);
    assert.equal(first.json.streams, 2);
    const again = await post(server, body);
    assert.equal(again.status, 200);
    assert.deepEqual({ appended: again.json.appended, duplicate: again.json.duplicate }, { appended: 0, duplicate: true });
    const events = await ledger.store.readStream('lab-http');
    assert.deepEqual(events.map((e) => e.envelope.id), [ID(1), ID(2)]);
    // The token holder is who the server records, unless the event names its own actor.
    assert.equal(events[0]!.envelope.metadata.actor, 'serve');
  });

  it('refuses the same event id with other content, writing nothing', async () => {
    const answer = await post(server, ndjson(note(ID(4), 'new'), note(ID(1), 'changed')));
    assert.equal(answer.status, 400, JSON.stringify(answer.json));
    assert.match(oneSentence(answer), new RegExp(ID(1)));
    assert.equal(await ledger.store.streamRevision('lab-http'), 1);
  });

  it('names the line of a bad event and writes nothing of the batch', async () => {
    const body = `${JSON.stringify(note(ID(5), 'fine'))}\n{"stream":"lab-http","type":"custom.note","data":{},"colour":"red"}\n`;
    const answer = await post(server, body);
    assert.equal(answer.status, 400);
    assert.match(oneSentence(answer), /^request body line 2: /);
    const broken = await post(server, `${JSON.stringify(note(ID(6), 'fine'))}\n{"stream":`);
    assert.equal(broken.status, 400);
    assert.match(oneSentence(broken), /request body line 2/);
    assert.equal(await ledger.store.streamRevision('lab-http'), 1);
  });

  it('applies the write rules of append: no plan or stage events, nothing on a run after it ended', async () => {
    const plan = await post(server, ndjson({ stream: 'run-hijack', type: 'PlanApproved', data: {} }));
    assert.equal(plan.status, 400);
    assert.match(oneSentence(plan), /PlanApproved/);
    const before = await ledger.store.streamRevision('run-base-1');
    const late = await post(server, ndjson({ stream: 'run-base-1', type: 'custom.note', data: { text: 'after the end' } }));
    assert.equal(late.status, 400, JSON.stringify(late.json));
    oneSentence(late);
    assert.equal(await ledger.store.streamRevision('run-base-1'), before);
    assert.equal(await ledger.store.streamRevision('run-hijack'), -1);
  });

  it('refuses a body other than NDJSON (415) and one over the size limit (413) with a JSON sentence', async () => {
    const json = await post(server, JSON.stringify(note(ID(7), 'as json')), { contentType: 'application/json' });
    assert.equal(json.status, 415);
    assert.match(oneSentence(json), /x-ndjson/);
    const big = await post(small, ndjson(note(ID(8), 'x'.repeat(1000))));
    assert.equal(big.status, 413);
    oneSentence(big);
    assert.equal(await ledger.store.streamRevision('lab-http'), 1);
  });

  it('rate limits each client: a burst is served, the next request is 429 with Retry-After', async () => {
    const body = ndjson(note(ID(9), 'burst', 'lab-rate'));
    assert.equal((await post(limited, body)).status, 200);
    assert.equal((await post(limited, body)).status, 200);
    const third = await post(limited, body);
    assert.equal(third.status, 429);
    assert.match(oneSentence(third), /too many requests/);
    assert.equal(third.headers.get('retry-after'), '2');
    // Unauthenticated floods are limited as well: the limit is checked before the token.
    assert.equal((await post(limited, body, { token: null })).status, 429);
  });
});

describe('TokenBuckets', () => {
  it('grants a burst, then one request per refill interval, per client', () => {
    let now = 0;
    const buckets = new TokenBuckets({ perSecond: 2, burst: 3 }, () => now);
    assert.deepEqual([buckets.take('a'), buckets.take('a'), buckets.take('a')], [0, 0, 0]);
    assert.equal(buckets.take('a'), 0.5);
    assert.equal(buckets.take('b'), 0, 'another client has its own bucket');
    now = 500;
    assert.equal(buckets.take('a'), 0);
    assert.ok(buckets.take('a') > 0);
    now = 100_000;
    assert.deepEqual([buckets.take('a'), buckets.take('a'), buckets.take('a')], [0, 0, 0], 'a bucket never holds more than the burst');
    assert.ok(buckets.take('a') > 0);
  });

  it('forgets the least recently used client beyond its capacity', () => {
    const buckets = new TokenBuckets({ perSecond: 1, burst: 1 }, () => 0, 2);
    buckets.take('a');
    buckets.take('b');
    buckets.take('c');
    assert.equal(buckets.take('a'), 0, 'a was forgotten, so it starts with a full bucket');
    assert.ok(buckets.take('c') > 0);
  });
});

describe('HTTP write API: the run routes', function () {
  this.timeout(60_000);
  let ledger: Ledger;
  let server: DashboardServer;
  const send = async (method: string, path: string, body?: unknown, token: string | null = TOKEN): Promise<Answer> => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
  };

  before(async () => {
    ledger = await freshLedger();
    server = await startServer({ store: ledger.store, home: ledger.home, port: 0, pollMs: 20, token: TOKEN });
  });
  after(async () => {
    await server?.close();
    await ledger?.close();
  });

  it('starts a run, logs to it atomically, records an artifact by digest and ends it; replay of its events sees every write', async () => {
    const started = await send('POST', '/api/runs', { runId: 'http-1', external: { name: 'curl-run' }, params: { lr: 0.01 }, tags: { team: 'x' }, environment: { python: '3.12.1' } });
    assert.equal(started.status, 200, JSON.stringify(started.json));
    assert.equal(started.json.runId, 'http-1');
    const logged = await send('POST', '/api/runs/http-1/log', { metrics: [{ key: 'f1', value: 0.91, step: 3 }], tags: { team: 'y' } });
    assert.equal(logged.status, 200, JSON.stringify(logged.json));
    const put = await fetch(`${server.url}/api/runs/http-1/artifacts/out/model.txt`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' }, body: 'weights' });
    const artifact = (await put.json()) as { digest: string; bytes: number };
    assert.equal(put.status, 200, JSON.stringify(artifact));
    assert.deepEqual(artifact, { digest: createHash('sha256').update('weights').digest('hex'), bytes: 7 });
    assert.equal((await send('DELETE', '/api/runs/http-1/tags/team')).status, 200);
    assert.equal((await send('POST', '/api/runs/http-1/end')).status, 200);
    const types = (await ledger.store.readStream('run-http-1')).map((e) => e.envelope.type);
    for (const t of ['GovernancePlanApproved', 'RunEnvironmentRecorded', 'ParamsLogged', 'MetricsLogged', 'TagsSet', 'ArtifactRecorded', 'TagDeleted', 'RunCompleted']) assert.ok(types.includes(t), `${t} in ${types.join(', ')}`);
    const environment = (await ledger.store.readStream('run-http-1')).find((e) => e.envelope.type === 'RunEnvironmentRecorded')!.envelope.data as { source: string; client: Record<string, unknown> };
    assert.equal(environment.source, 'http');
    assert.deepEqual(environment.client, { python: '3.12.1' });
  });

  it('refuses unknown fields, type-coerced values, a changed param and writes after the end, recording nothing', async () => {
    assert.equal((await send('POST', '/api/runs', { runId: 'http-2', external: { name: 'curl-run' }, params: { lr: 0.1 } })).status, 200);
    const at = await ledger.store.streamRevision('run-http-2');
    const unknown = await send('POST', '/api/runs/http-2/log', { metrics: [], colour: 'red' });
    assert.equal(unknown.status, 400);
    assert.match(oneSentence(unknown), /colour/);
    const coerced = await send('POST', '/api/runs/http-2/log', { metrics: [{ key: 'f1', value: '0.5' }] });
    assert.equal(coerced.status, 400);
    assert.match(oneSentence(coerced), /metrics\.0\.value/);
    const changed = await send('POST', '/api/runs/http-2/log', { params: { lr: 0.2 }, metrics: [{ key: 'f1', value: 0.5 }] });
    assert.equal(changed.status, 400);
    oneSentence(changed);
    assert.equal(await ledger.store.streamRevision('run-http-2'), at, 'nothing of the refused batches was recorded');
    assert.equal((await send('POST', '/api/runs/http-2/fail', { reason: 'diverged' })).status, 200);
    const late = await send('POST', '/api/runs/http-2/log', { metrics: [{ key: 'f1', value: 0.5 }] });
    assert.equal(late.status, 400);
    assert.match(oneSentence(late), /failed/);
    assert.equal((await send('POST', '/api/runs', { external: { name: 'x' } }, null)).status, 401);
  });
});
