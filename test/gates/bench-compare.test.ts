import assert from 'node:assert/strict';
import { InputError } from '../../src/errors.js';
import { compareBench, parseBenchFile, parseFraction } from '../../src/gates/bench-compare.js';
import type { BenchResult } from '../../bench/result.js';

function result(name: string, p50: number, throughputPerSec: number, ratio?: number): BenchResult {
  return {
    name,
    unit: 'events',
    runs: 5,
    wallMs: { p50, p90: p50, p99: p50, mean: p50, stdev: 0 },
    throughputPerSec,
    memoryDeltaBytes: 0,
    ...(ratio === undefined ? {} : { ratio }),
    environment: { node: 'v20' },
  };
}

function withGoal(r: BenchResult, goalIs: 'min' | 'max'): BenchResult {
  return { ...r, goal: 1, goalIs };
}

describe('gates/bench-compare', () => {
  it('gates on same-run ratios by default: a uniformly slower machine passes, a worse ratio fails', () => {
    const base = [result('append', 100, 1000, 0.5), withGoal(result('projection', 50, 2000, 1.1), 'max')];
    assert.equal(compareBench(base, base, 0.1).verdict, 'pass');
    // Everything twice as slow, ratios flat: what a loaded CI runner produces.
    const loaded = [result('append', 200, 500, 0.5), withGoal(result('projection', 100, 1000, 1.1), 'max')];
    const cmp = compareBench(base, loaded, 0.1);
    assert.equal(cmp.mode, 'ratio');
    assert.equal(cmp.verdict, 'pass', JSON.stringify(cmp.results));
    // Throughput ratio (higher is better) fell 12%; time ratio (goalIs max, lower is better) rose 11%.
    const worse = compareBench(base, [result('append', 100, 1000, 0.44), withGoal(result('projection', 50, 2000, 1.221), 'max')], 0.1);
    assert.equal(worse.verdict, 'fail');
    assert.equal(worse.regressions, 2);
    assert.match(worse.results[0]!.reason, /^ratio fell 12%, beyond 10%/);
    assert.match(worse.results[1]!.reason, /^ratio rose 11%, beyond 10%/);
    assert.deepEqual(worse.results.map((r) => r.ratioBetter), ['higher', 'lower']);
    // The same changes the other way are improvements.
    assert.equal(compareBench(base, [result('append', 100, 1000, 0.6), withGoal(result('projection', 50, 2000, 0.9), 'max')], 0.1).verdict, 'pass');
  });

  it('takes the ratio direction from the baseline: a new file cannot flip what counts as worse', () => {
    const base = [withGoal(result('projection', 50, 2000, 1.1), 'max')];
    const flipped = [withGoal(result('projection', 50, 2000, 2.0), 'min')];
    assert.equal(compareBench(base, flipped, 0.1).verdict, 'fail');
  });

  it('compares absolute wall time and throughput only when asked', () => {
    const base = [result('append', 100, 1000, 1.1), result('verify', 50, 2000)];
    const slower = [result('append', 111, 1000, 1.1), result('verify', 50, 2000)];
    assert.equal(compareBench(base, slower, 0.1).verdict, 'pass');
    const cmp = compareBench(base, slower, 0.1, { mode: 'absolute' });
    assert.equal(cmp.verdict, 'fail');
    assert.equal(cmp.regressions, 1);
    assert.match(cmp.results[0]!.reason, /median wall time \+11%, beyond 10%/);
    assert.equal(compareBench([result('x', 100, 1000)], [result('x', 100, 850)], 0.1, { mode: 'absolute' }).verdict, 'fail');
    assert.equal(compareBench([result('x', 100, 1000)], [result('x', 105, 950)], 0.1, { mode: 'absolute' }).verdict, 'pass');
  });

  it('does not gate a benchmark the baseline has no ratio for, but fails one whose new file dropped its ratio', () => {
    const unrated = compareBench([result('step', 10, 100)], [result('step', 30, 30)], 0.1);
    assert.equal(unrated.verdict, 'pass');
    assert.equal(unrated.results[0]!.verdict, 'unrated');
    const dropped = compareBench([result('append', 100, 1000, 0.5)], [result('append', 100, 1000)], 0.1);
    assert.equal(dropped.verdict, 'fail');
  });

  it('fails a baseline benchmark missing from the new file unless allowed, and lists new ones', () => {
    const cmp = compareBench([result('old', 1, 1, 1)], [result('new', 1, 1, 1)], 0.1);
    assert.deepEqual(cmp.results.map((r) => [r.name, r.verdict]), [['new', 'new'], ['old', 'missing']]);
    assert.equal(cmp.verdict, 'fail');
    assert.equal(compareBench([result('old', 1, 1, 1)], [result('new', 1, 1, 1)], 0.1, { allowMissing: true }).verdict, 'pass');
  });

  it('reads both the array form and the { results } form, and names the bad field otherwise', () => {
    const one = result('a', 1, 1);
    assert.equal(parseBenchFile(JSON.stringify([one]), 'a.json').length, 1);
    assert.equal(parseBenchFile(JSON.stringify({ results: [one], generatedAt: 'x' }), 'a.json').length, 1);
    assert.throws(() => parseBenchFile(JSON.stringify([{ ...one, wallMs: { p50: 'fast' } }]), 'bad.json'), (err: unknown) => {
      assert.ok(err instanceof InputError);
      assert.match(err.message, /bad\.json: field \[0\]\.wallMs\.p50/);
      return true;
    });
    assert.throws(() => parseBenchFile('[{', 'broken.json'), /broken\.json line 1/);
  });

  it('parses thresholds as percentages or fractions', () => {
    assert.equal(parseFraction('10%', 'max'), 0.1);
    assert.equal(parseFraction('0.25', 'max'), 0.25);
    assert.throws(() => parseFraction('ten', '--max-regression'), /--max-regression must be a fraction/);
  });
});
