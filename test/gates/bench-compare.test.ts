import assert from 'node:assert/strict';
import { InputError } from '../../src/errors.js';
import { compareBench, parseBenchFile, parseFraction } from '../../src/gates/bench-compare.js';
import type { BenchResult } from '../../src/gates/bench-file.js';

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
    const base = [withGoal(result('append', 100, 1000, 0.5), 'min'), withGoal(result('projection', 50, 2000, 1.1), 'max')];
    assert.equal(compareBench(base, base, 0.1).verdict, 'pass');
    // Everything twice as slow, ratios flat: what a loaded CI runner produces.
    const loaded = [withGoal(result('append', 200, 500, 0.5), 'min'), withGoal(result('projection', 100, 1000, 1.1), 'max')];
    const cmp = compareBench(base, loaded, 0.1);
    assert.equal(cmp.mode, 'ratio');
    assert.equal(cmp.verdict, 'pass', JSON.stringify(cmp.results));
    // Throughput ratio (higher is better) fell 12%; time ratio (goalIs max, lower is better) rose 11%.
    const worse = compareBench(base, [withGoal(result('append', 100, 1000, 0.44), 'min'), withGoal(result('projection', 50, 2000, 1.221), 'max')], 0.1);
    assert.equal(worse.verdict, 'fail');
    assert.equal(worse.regressions, 2);
    assert.match(worse.results[0]!.reason, /^ratio fell 12%, beyond 10%/);
    assert.match(worse.results[1]!.reason, /^ratio rose 11%, beyond 10%/);
    assert.deepEqual(worse.results.map((r) => r.ratioBetter), ['higher', 'lower']);
    // The same changes the other way are improvements.
    assert.equal(compareBench(base, [withGoal(result('append', 100, 1000, 0.6), 'min'), withGoal(result('projection', 50, 2000, 0.9), 'max')], 0.1).verdict, 'pass');
  });

  it('does not count a worse ratio the timings cannot resolve (noisy), and does count one beyond the noise', () => {
    const spread = (r: BenchResult, cv: number): BenchResult => ({
      ...r,
      wallMs: { ...r.wallMs, mean: r.wallMs.p50, stdev: r.wallMs.p50 * cv },
      reference: { name: 'ref', wallMs: { p50: 100, p90: 100, p99: 100, mean: 100, stdev: 100 * cv }, throughputPerSec: 1 },
    });
    const base = [withGoal(spread(result('p', 100, 1, 1.0), 0.05), 'max')];
    // 5 runs at a 60% spread: the ratio is known to about ±67%; a 30% rise is not evidence.
    const noisy = compareBench(base, [withGoal(spread(result('p', 100, 1, 1.3), 0.6), 'max')], 0.1);
    assert.equal(noisy.results[0]!.verdict, 'noisy');
    assert.equal(noisy.verdict, 'pass');
    assert.match(noisy.results[0]!.reason, /within the measurement noise \(±\d+/);
    // Tight timings: the same 30% rise is a regression.
    const clear = compareBench(base, [withGoal(spread(result('p', 100, 1, 1.3), 0.05), 'max')], 0.1);
    assert.equal(clear.results[0]!.verdict, 'fail');
    assert.ok(clear.results[0]!.ratioNoise! < 0.3);
  });

  it('never counts a large regression as noise, however spread the new file says its timings were', () => {
    // A new file whose timings claim stdev = mean * sqrt(runs): a band of about ±350% that would excuse anything.
    const wild = (r: BenchResult): BenchResult => ({
      ...r,
      wallMs: { ...r.wallMs, mean: r.wallMs.p50, stdev: r.wallMs.p50 * Math.sqrt(r.runs) },
      reference: { name: 'ref', wallMs: { p50: 100, p90: 100, p99: 100, mean: 100, stdev: 100 * Math.sqrt(r.runs) }, throughputPerSec: 1 },
    });
    const base = [withGoal(result('time', 100, 1, 1.0), 'max'), withGoal(result('rate', 100, 1, 0.9), 'min')];
    // Three times worse each way: the time ratio tripled, the throughput ratio fell to a third.
    const cmp = compareBench(base, [wild(withGoal(result('time', 300, 1, 3.0), 'max')), wild(withGoal(result('rate', 300, 1, 0.3), 'min'))], 0.1);
    assert.ok(cmp.results.every((r) => r.ratioNoise! > 2), 'the claimed spread is wide');
    assert.deepEqual(cmp.results.map((r) => r.verdict), ['fail', 'fail'], JSON.stringify(cmp.results.map((r) => r.reason)));
    assert.equal(cmp.verdict, 'fail');
    assert.match(cmp.results[1]!.reason, /beyond what noise can excuse \(50%\)/);
    // Within the cap the band still decides: a 30% rise under that spread is noisy.
    assert.equal(compareBench([base[0]!], [wild(withGoal(result('time', 130, 1, 1.3), 'max'))], 0.1).results[0]!.verdict, 'noisy');
  });

  it('reports, without gating, a ratio that has no goal (a diagnostic such as parallel scaling)', () => {
    const cmp = compareBench([result('scaling', 100, 1, 1.05)], [result('scaling', 100, 1, 0.7)], 0.1);
    assert.equal(cmp.results[0]!.verdict, 'unrated');
    assert.equal(cmp.verdict, 'pass');
  });

  it('takes the ratio direction from the baseline: a new file cannot flip what counts as worse', () => {
    const base = [withGoal(result('projection', 50, 2000, 1.1), 'max')];
    const flipped = [withGoal(result('projection', 50, 2000, 2.0), 'min')];
    assert.equal(compareBench(base, flipped, 0.1).results[0]!.ratioBetter, 'lower');
    assert.equal(compareBench(base, flipped, 0.1).verdict, 'fail');
  });

  it('compares absolute wall time and throughput only when asked', () => {
    const base = [withGoal(result('append', 100, 1000, 1.1), 'min'), result('verify', 50, 2000)];
    const slower = [withGoal(result('append', 111, 1000, 1.1), 'min'), result('verify', 50, 2000)];
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
    const dropped = compareBench([withGoal(result('append', 100, 1000, 0.5), 'min')], [result('append', 100, 1000)], 0.1);
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
