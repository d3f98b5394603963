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

describe('gates/bench-compare', () => {
  it('passes identical files and fails a slowdown beyond the threshold', () => {
    const base = [result('append', 100, 1000, 1.1), result('verify', 50, 2000)];
    assert.equal(compareBench(base, base, 0.1).verdict, 'pass');
    const slower = [result('append', 111, 1000, 1.2), result('verify', 50, 2000)];
    const cmp = compareBench(base, slower, 0.1);
    assert.equal(cmp.verdict, 'fail');
    assert.equal(cmp.regressions, 1);
    assert.match(cmp.results[0]!.reason, /median wall time \+11% exceeds 10%/);
    assert.ok(Math.abs(cmp.results[0]!.ratioChange! - (1.2 - 1.1) / 1.1) < 1e-12);
  });

  it('fails a throughput drop beyond the threshold and tolerates one within it', () => {
    const base = [result('x', 100, 1000)];
    assert.equal(compareBench(base, [result('x', 100, 850)], 0.1).verdict, 'fail');
    assert.equal(compareBench(base, [result('x', 105, 950)], 0.1).verdict, 'pass');
  });

  it('reports benchmarks present on one side only without failing', () => {
    const cmp = compareBench([result('old', 1, 1)], [result('new', 1, 1)], 0.1);
    assert.deepEqual(cmp.results.map((r) => [r.name, r.verdict]), [['new', 'new'], ['old', 'missing']]);
    assert.equal(cmp.verdict, 'pass');
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
