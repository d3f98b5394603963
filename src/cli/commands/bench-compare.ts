// bench-compare: the perf-regression gate over bench JSON files (src/gates/bench-file.ts).
import type { Command } from 'commander';
import { compareBench, loadBenchFile, parseFraction, type BenchComparison, type BenchDelta } from '../../gates/bench-compare.js';
import { ExitCode, withJson, type CliContext } from '../context.js';
import { count, type Style, type Tone } from '../style.js';

const TONE: Record<BenchDelta['verdict'], Tone> = { pass: 'ok', fail: 'fail', missing: 'fail', new: 'info', unrated: 'info', noisy: 'warn' };

export function registerBenchCompareCommand(program: Command, ctx: CliContext): void {
  withJson(program.command('bench-compare'))
    .description('compare two bench JSON files by their same-run ratios; exit 1 when a benchmark regressed beyond --max-regression')
    .argument('<base>', 'baseline bench JSON (e.g. bench/baseline.json)')
    .argument('<new>', 'new bench JSON (npm run bench -- --out new.json)')
    .option('--max-regression <fraction>', 'largest tolerated loss, e.g. 10% or 0.1', '10%')
    .option('--absolute', 'gate on median wall time and throughput instead of ratios (only meaningful on the same, idle machine)')
    .option('--allow-missing', 'benchmarks of the baseline absent from the new file do not fail (a partial run)')
    .action((base: string, next: string, opts: { maxRegression: string; absolute?: boolean; allowMissing?: boolean; json?: boolean }) => {
      const max = parseFraction(opts.maxRegression, '--max-regression');
      const comparison = compareBench(loadBenchFile(base), loadBenchFile(next), max, { mode: opts.absolute ? 'absolute' : 'ratio', allowMissing: opts.allowMissing ?? false });
      ctx.print(opts.json ?? false, comparison, () => human(comparison, ctx.style));
      if (comparison.verdict === 'fail') throw new ExitCode(1);
    });
}

function human(c: BenchComparison, style: Style): string {
  const width = Math.max(4, ...c.results.map((r) => r.name.length));
  const word = Math.max(...c.results.map((r) => r.verdict.length));
  const what = c.mode === 'ratio' ? 'same-run ratio' : 'wall time or throughput';
  return [
    ...c.results.map((r) => `${style.status(r.verdict === 'missing' && c.allowMissing ? 'warn' : TONE[r.verdict], r.verdict.toUpperCase().padEnd(word))} ${r.name.padEnd(width)}  ${r.reason}`),
    `${style.status(c.verdict === 'fail' ? 'fail' : 'ok', c.verdict === 'fail' ? 'FAIL' : 'PASS')}: ${count(c.regressions, 'regression')} of ${what} beyond ${Math.round(c.maxRegression * 1000) / 10}%`,
  ].join('\n');
}
