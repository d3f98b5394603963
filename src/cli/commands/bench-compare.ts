// bench-compare: the perf-regression gate over bench JSON files (bench/result.ts).
import type { Command } from 'commander';
import { compareBench, loadBenchFile, parseFraction, type BenchComparison } from '../../gates/bench-compare.js';
import { ExitCode, withJson, type CliContext } from '../context.js';

export function registerBenchCompareCommand(program: Command, ctx: CliContext): void {
  withJson(program.command('bench-compare'))
    .description('compare two bench JSON files; exit 1 when a benchmark regressed beyond --max-regression')
    .argument('<base>', 'baseline bench JSON (e.g. bench/baseline.json)')
    .argument('<new>', 'new bench JSON (npm run bench -- --out new.json)')
    .option('--max-regression <fraction>', 'largest tolerated slowdown or throughput loss, e.g. 10% or 0.1', '10%')
    .action((base: string, next: string, opts: { maxRegression: string; json?: boolean }) => {
      const max = parseFraction(opts.maxRegression, '--max-regression');
      const comparison = compareBench(loadBenchFile(base), loadBenchFile(next), max);
      ctx.print(opts.json ?? false, comparison, () => human(comparison));
      if (comparison.verdict === 'fail') throw new ExitCode(1);
    });
}

function human(c: BenchComparison): string {
  const width = Math.max(4, ...c.results.map((r) => r.name.length));
  return [
    ...c.results.map((r) => `${r.verdict.toUpperCase().padEnd(7)} ${r.name.padEnd(width)}  ${r.reason}`),
    `${c.verdict === 'fail' ? 'FAIL' : 'PASS'}: ${c.regressions} regression${c.regressions === 1 ? '' : 's'} beyond ${Math.round(c.maxRegression * 1000) / 10}%`,
  ].join('\n');
}
