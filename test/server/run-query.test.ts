// The runs query grammar (src/server/run-query.ts): what a filter selects, how a sort orders, and
// errors that name the column where the expression went wrong.
import assert from 'node:assert/strict';
import { InputError } from '../../src/errors.js';
import { matches, parseFilter, parseSort, queryRuns, type RunQueryRecord } from '../../src/server/run-query.js';

function run(id: string, over: { metrics?: Record<string, number>; params?: RunQueryRecord['params']; campaign?: string | null; status?: string; tags?: Record<string, string> } = {}): RunQueryRecord {
  return {
    fields: { run: id, status: over.status ?? 'completed', stage: null, plan: 'iris', campaign: over.campaign ?? null, verification: 'verified', backend: 'cpu', seed: 1, step: 10, checkpoints: 1, updated: null },
    params: over.params ?? {},
    metrics: over.metrics ?? {},
    latest: {},
    tags: over.tags ?? {},
  };
}

const RUNS = [
  run('a', { metrics: { testAccuracy: 0.95 }, params: { lr: 0.01, optimizer: 'adam' }, campaign: 'candidate' }),
  run('b', { metrics: { testAccuracy: 0.85 }, params: { lr: 0.1, optimizer: 'sgd' }, campaign: 'candidate' }),
  run('c', { metrics: { testAccuracy: 0.97 }, params: { lr: '0.01' }, campaign: 'baseline', tags: { team: 'Vision' } }),
  run('d', { status: 'running' }),
];
const select = (filter: string, sort = ''): string[] => queryRuns(RUNS, { filter, sort }, (r) => r).map((r) => r.fields.run as string);

describe('runs query', function () {
  it('selects by metric and param, numbers compared as numbers even when a param was logged as text', function () {
    assert.deepEqual(select('metrics.testAccuracy > 0.9 and params.lr = 0.01'), ['a', 'c']);
    assert.deepEqual(select('metrics.testAccuracy >= 0.85 and metrics.testAccuracy < 0.96'), ['a', 'b']);
  });

  it('combines and, or, not and parentheses with "and" binding tighter than "or"', function () {
    assert.deepEqual(select('campaign = baseline or campaign = candidate and params.optimizer = sgd'), ['b', 'c']);
    assert.deepEqual(select('(campaign = baseline or campaign = candidate) and not params.optimizer = sgd'), ['a', 'c']);
  });

  it('treats a missing field as matching nothing but "!=", and tests presence with "exists"', function () {
    assert.deepEqual(select('metrics.testAccuracy < 2'), ['a', 'b', 'c']);
    assert.deepEqual(select('campaign != candidate'), ['c', 'd']);
    assert.deepEqual(select('not metrics.testAccuracy exists'), ['d']);
  });

  it('matches text with quotes and "~" (contains, case-insensitive)', function () {
    assert.deepEqual(select("tags.team ~ 'vis'"), ['c']);
    assert.deepEqual(select('status = "running"'), ['d']);
  });

  it('sorts descending with runs lacking the value last, keeping input order for ties', function () {
    assert.deepEqual(select('', '-metrics.testAccuracy'), ['c', 'a', 'b', 'd']);
    assert.deepEqual(select('', 'metrics.testAccuracy:asc'), ['b', 'a', 'c', 'd']);
    assert.deepEqual(select('', 'status'), ['a', 'b', 'c', 'd']);
  });

  it('does not reach into the prototype: params.constructor is a missing param', function () {
    assert.equal(matches(parseFilter('params.constructor exists'), RUNS[0]!), false);
    assert.equal(matches(parseFilter('params.__proto__ exists'), RUNS[0]!), false);
  });

  for (const [text, message] of [
    ['metrics.testAccuracy >', /^filter, column 23: expected a value after ">" \(quote a value that is a keyword\) \(found the end of the expression\)$/],
    ['campaign = a or', /^filter, column 16: expected a field/],
    ['camp = a', /^filter, column 1: unknown field "camp"/],
    ['metrics = 1', /^filter, column 1: "metrics" needs a name after "metrics\."/],
    ['(status = a', /^filter, column 12: expected "\)" to close the "\(" at column 1/],
    ['status = a b', /^filter, column 12: expected "and", "or" or the end/],
    ['plan = "iris', /^filter, column 8: the string opened here is not closed/],
    ['seed > big', /^filter, column 8: ">" needs a number \(quote the value to compare text\)/],
    ['status ! a', /^filter, column 8: unexpected character "!"/],
  ] as const) {
    it(`refuses ${JSON.stringify(text)} naming the column`, function () {
      assert.throws(() => parseFilter(text), (err: unknown) => err instanceof InputError && message.test(err.message));
    });
  }

  it('refuses an unknown sort field, naming the option', function () {
    assert.throws(() => parseSort('-acc', '--sort'), /^InputError: --sort, column 2: unknown field "acc"/);
    assert.deepEqual(parseSort('-metrics.testAccuracy'), { field: ['metrics', 'testAccuracy'], descending: true });
  });
});
