// GET /metrics on a real server: the exposition parses strictly, every documented family is there
// with its type and labels, and the values follow the ledger (appends from another process, a
// consumer's stored position, checkpoints) and this server (HTTP requests by route, its own appends).
import assert from 'node:assert/strict';
import { consumerName } from '../../projections/projection.js';
import { runSummaryProjection } from '../../projections/run-summary.js';
import { startServer, type DashboardServer } from '../../src/server/app.js';
import { openStore } from '../../src/store/open.js';
import { ExpositionError, parseExposition, sampleValue, type Family } from './exposition.js';
import { checkpointLedger, freshLedger, populate, raw, type Ledger } from './fixture.js';

const TOKEN = 'metrics-test-token-0123456789';

const DOCUMENTED: [string, Family['type'], string[]][] = [
  ['runledger_events_appended_total', 'counter', []],
  ['runledger_append_duration_seconds', 'histogram', []],
  ['runledger_http_requests_total', 'counter', ['method', 'route', 'status']],
  ['runledger_http_request_duration_seconds', 'histogram', ['method', 'route']],
  ['runledger_log_events', 'gauge', []],
  ['runledger_integration_pending_events', 'gauge', []],
  ['runledger_unanchored_events', 'gauge', []],
  ['runledger_checkpoints', 'gauge', []],
  ['runledger_checkpoint_tree_size', 'gauge', []],
  ['runledger_checkpoint_age_seconds', 'gauge', []],
  ['runledger_runs_verification', 'gauge', ['status']],
  ['runledger_consumer_position', 'gauge', ['consumer']],
  ['runledger_consumer_lag_events', 'gauge', ['consumer']],
  ['runledger_process_resident_memory_bytes', 'gauge', []],
];

describe('GET /metrics', function () {
  this.timeout(60_000);
  let ledger: Ledger;
  let server: DashboardServer;

  const scrape = async (): Promise<Map<string, Family>> => {
    const reply = await raw(server, '/metrics');
    assert.equal(reply.status, 200, reply.body);
    assert.equal(reply.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    return parseExposition(reply.body);
  };

  before(async () => {
    ledger = await freshLedger();
    await populate(ledger);
    server = await startServer({ store: ledger.store, home: ledger.home, port: 0, pollMs: 20, token: TOKEN, consumers: ['relay:events'] });
  });
  after(async () => {
    await server?.close();
    await ledger?.close();
  });

  it('serves every documented family with its type and labels, in a strictly valid exposition', async () => {
    const families = await scrape();
    for (const [name, type, labels] of DOCUMENTED) {
      const family = families.get(name);
      assert.ok(family, `${name} is exposed`);
      assert.equal(family.type, type, name);
      assert.ok(family.help && family.help.length > 10, `${name} has help`);
      for (const s of family.samples) {
        const own = Object.keys(s.labels).filter((l) => l !== 'le' && l !== 'quantile').sort();
        assert.deepEqual(own, [...labels].sort(), `${s.name} labels`);
      }
    }
  });

  it('reports the tree, the signed checkpoint and the run badges as the ledger has them', async () => {
    const families = await scrape();
    const tree = (await ledger.store.treeState()).size;
    const latest = (await ledger.store.checkpoints()).at(-1)!;
    assert.equal(sampleValue(families, 'runledger_log_events'), tree);
    assert.equal(sampleValue(families, 'runledger_integration_pending_events'), 0);
    assert.equal(sampleValue(families, 'runledger_unanchored_events'), 0);
    assert.equal(sampleValue(families, 'runledger_checkpoint_tree_size'), latest.size);
    assert.equal(sampleValue(families, 'runledger_checkpoints'), (await ledger.store.checkpoints()).length);
    const age = sampleValue(families, 'runledger_checkpoint_age_seconds')!;
    assert.ok(age >= 0 && age < 120, `age ${age}`);
    const verified = sampleValue(families, 'runledger_runs_verification', { status: 'verified' })!;
    const all = ['verified', 'failed', 'unsigned', 'pending'].map((status) => sampleValue(families, 'runledger_runs_verification', { status })!);
    assert.equal(all.reduce((a, b) => a + b, 0), 3, 'one badge per run');
    assert.ok(verified >= 2, 'the two completed runs are verified');
  });

  it('follows appends by another process: events, unanchored events, then a checkpoint', async () => {
    const other = await openStore(ledger.store.displayUrl);
    const before = sampleValue(await scrape(), 'runledger_log_events')!;
    await other.append('outside', [1, 2, 3, 4, 5].map((i) => ({ type: 'custom.outside', data: { i } })));
    await other.close();
    let families = await scrape();
    assert.equal(sampleValue(families, 'runledger_log_events'), before + 5);
    assert.equal(sampleValue(families, 'runledger_unanchored_events'), 5);
    assert.equal(sampleValue(families, 'runledger_events_appended_total'), 0, 'not appended by this server');
    await checkpointLedger(ledger);
    families = await scrape();
    assert.equal(sampleValue(families, 'runledger_unanchored_events'), 0);
    assert.equal(sampleValue(families, 'runledger_checkpoint_tree_size'), before + 5);
  });

  it('reports stored consumer positions and counts their lag in events, never by subtracting positions', async () => {
    const consumer = consumerName(runSummaryProjection);
    const events = await ledger.store.readAll();
    await ledger.store.setPosition(consumer, events[events.length - 4]!.position);
    await ledger.store.setPosition('relay:events', -1);
    const families = await scrape();
    assert.equal(sampleValue(families, 'runledger_consumer_position', { consumer }), events[events.length - 4]!.position);
    assert.equal(sampleValue(families, 'runledger_consumer_lag_events', { consumer }), 3);
    assert.equal(sampleValue(families, 'runledger_consumer_lag_events', { consumer: 'relay:events' }), events.length);
    assert.equal(sampleValue(families, 'runledger_consumer_position', { consumer: consumerName({ name: 'comparison-graph' }) }), undefined, 'a consumer without a stored position is absent');
    assert.equal(sampleValue(families, 'runledger_consumer_lag_events', { consumer: 'serve' }), 0);
  });

  it('counts HTTP requests by route template and status, and this server\'s own appends with their latency', async () => {
    const before = await scrape();
    const runs = sampleValue(before, 'runledger_http_requests_total', { method: 'GET', route: '/api/runs', status: '200' }) ?? 0;
    await raw(server, '/api/runs');
    await raw(server, '/api/runs');
    await raw(server, '/api/runs/base-1');
    await raw(server, '/no/such/page');
    const body = JSON.stringify({ runId: 'base-1', actor: 'alice' });
    const written = await fetch(`${server.url}/api/models/iris/versions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body });
    assert.equal(written.status, 200, await written.text());
    const after = await scrape();
    assert.equal(sampleValue(after, 'runledger_http_requests_total', { method: 'GET', route: '/api/runs', status: '200' }), runs + 2);
    assert.equal(sampleValue(after, 'runledger_http_requests_total', { method: 'GET', route: '/api/runs/:id', status: '200' }), 1, 'the template, not the raw URL');
    assert.equal(sampleValue(after, 'runledger_http_requests_total', { method: 'GET', route: '(unmatched)', status: '404' }), 1);
    assert.equal(sampleValue(after, 'runledger_http_requests_total', { method: 'POST', route: '/api/models/:name/versions', status: '200' }), 1);
    assert.equal(sampleValue(after, 'runledger_events_appended_total'), 1);
    assert.equal(sampleValue(after, 'runledger_append_duration_seconds_count'), 1);
  });

  it('follows the Host check (421 for another site\'s name: DNS rebinding) and refuses cross-site requests (403), no token needed', async () => {
    const reply = await raw(server, '/metrics', { headers: { host: 'attacker.example:8787' } });
    assert.equal(reply.status, 421);
    // Another site's <img> or fetch: refused before it costs a scrape (replays), like the API.
    assert.equal((await raw(server, '/metrics', { headers: { 'sec-fetch-site': 'cross-site' } })).status, 403);
    assert.equal((await raw(server, '/metrics', { headers: { 'sec-fetch-site': 'same-origin' } })).status, 200);
  });

  it('has a parser that rejects what the format forbids', () => {
    const bad = [
      'no_type 1\n',
      '# TYPE a counter\na{b="c} 1\n',
      '# TYPE a counter\na 1\na 1\n',
      '# TYPE a gauge\na one\n',
      '# TYPE a counter\na 1\n# HELP a late\n',
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 1\n',
      '# TYPE h histogram\nh_bucket{le="1"} 1\nh_count 1\nh_sum 1\n',
      '# TYPE a gauge\na 1',
    ];
    for (const text of bad) assert.throws(() => parseExposition(text), ExpositionError, JSON.stringify(text));
    assert.equal(sampleValue(parseExposition('# TYPE a gauge\na{x="q\\"\\n"} 2.5e3\n'), 'a', { x: 'q"\n' }), 2500);
  });
});
