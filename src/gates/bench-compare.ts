// Perf-regression gate over the bench JSON shape (src/gates/bench-file.ts): each benchmark in NEW is
// matched by name with BASE and fails when its same-run ratio (against the reference measured in
// the same process, e.g. raw better-sqlite3 inserts) got worse by more than the allowed fraction;
// with `absolute`, when its median wall time rose or its throughput fell by more than that.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { BenchFile, type BenchResult } from './bench-file.js';
import { InputError } from '../errors.js';
import { fmt } from './regression.js';

export type BenchMode = 'ratio' | 'absolute';

export interface BenchDelta {
  name: string;
  /** (new - base) / base of wallMs.p50; positive = slower. */
  wallChange: number | null;
  /** (base - new) / base of throughputPerSec; positive = less throughput. */
  throughputChange: number | null;
  /** (new - base) / base of the same-run ratio, when both files have one. */
  ratioChange: number | null;
  /** Which way the ratio improves: lower for time goals (`goalIs: "max"`), higher otherwise. */
  ratioBetter: 'higher' | 'lower' | null;
  base: { wallP50: number; throughputPerSec: number; ratio: number | null } | null;
  candidate: { wallP50: number; throughputPerSec: number; ratio: number | null } | null;
  /** Twice the combined standard error of both files' ratios, relative (ratio mode); null without a ratio. */
  ratioNoise: number | null;
  /**
   * `missing` (in BASE, not in NEW) fails unless allowed: a benchmark that crashed or was dropped must
   * not pass silently. `unrated` (ratio mode): the baseline holds no ratio to a goal, so it is
   * reported, not gated. `noisy`: worse by more than the threshold but within the measurement noise,
   * so not counted (the timings cannot tell); it says so.
   */
  verdict: 'pass' | 'fail' | 'missing' | 'new' | 'unrated' | 'noisy';
  reason: string;
}

export interface BenchComparison {
  schema: 'runledger.bench-compare/v2';
  /** `ratio` (default): gate on the same-run ratios; `absolute`: on wall time and throughput. */
  mode: BenchMode;
  maxRegression: number;
  allowMissing: boolean;
  results: BenchDelta[];
  regressions: number;
  verdict: 'pass' | 'fail';
}

/** "10%" or "0.1" → 0.1. */
export function parseFraction(text: string, field: string): number {
  const match = /^(\d+(?:\.\d+)?)(%?)$/.exec(text.trim());
  if (!match) throw new InputError(`${field} must be a fraction such as 0.1 or a percentage such as 10%, got "${text}"`, { field });
  return Number(match[1]) / (match[2] ? 100 : 1);
}

export function loadBenchFile(file: string): BenchResult[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read bench file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { file });
  }
  return parseBenchFile(text, file);
}

export function parseBenchFile(text: string, file: string): BenchResult[] {
  const lineCounter = new LineCounter();
  // JSON is YAML 1.2: the YAML parser gives line numbers for JSON too.
  const doc = parseDocument(text, { lineCounter });
  if (doc.errors[0]) {
    throw new InputError(`${file} line ${lineCounter.linePos(doc.errors[0].pos[0]).line}: not valid JSON`, { file });
  }
  const parsed = BenchFile.safeParse(doc.toJS());
  if (!parsed.success) {
    // Report the deepest issue of the array form: that is what a bench file almost always is.
    const issue = parsed.error.issues[0]!;
    const nested = issue.code === 'invalid_union' ? issue.errors.flat()[0] : undefined;
    const path = (nested?.path ?? issue.path).map(String);
    const field = path.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '') || '(file)';
    throw new InputError(`${file}: field ${field}: ${nested?.message ?? issue.message}`, { file, field });
  }
  const results = Array.isArray(parsed.data) ? parsed.data : parsed.data.results;
  const seen = new Set<string>();
  for (const r of results) {
    if (seen.has(r.name)) throw new InputError(`${file}: benchmark "${r.name}" appears twice`, { file, field: 'name' });
    seen.add(r.name);
  }
  return results;
}

/**
 * Relative standard error of a result's ratio: the spread of its own and its reference's timings
 * (coefficient of variation), ~1.25 σ/√n for a median of n runs, combined in quadrature.
 */
function ratioStandardError(r: BenchResult): number {
  const cv = (w: { mean: number; stdev: number }): number => (w.mean > 0 ? w.stdev / w.mean : 0);
  const own = cv(r.wallMs) ** 2 + (r.reference ? cv(r.reference.wallMs) ** 2 : 0);
  return 1.2533 * Math.sqrt(own / r.runs);
}

/**
 * The largest loss the measurement noise can excuse: beyond it a ratio fails whatever spread the
 * timings report (a run whose timings are that spread cannot vouch for anything; a file claiming
 * stdev = mean · √runs would otherwise excuse a 3× regression as "noisy").
 */
export const MAX_NOISE_EXCUSE = 0.5;

/**
 * Matches NEW against BASE by name. By default each benchmark whose baseline holds a ratio to a
 * goal is judged by that ratio against the reference measured in the same run: a loaded or
 * different machine slows both sides alike, so the ratio stays put where absolute times do not.
 * A ratio worse by more than the threshold fails unless that is within twice the standard error
 * both files' timings allow (then `noisy`) and at most MAX_NOISE_EXCUSE. `absolute` judges median wall time and throughput.
 */
export function compareBench(
  base: readonly BenchResult[],
  candidate: readonly BenchResult[],
  maxRegression: number,
  options: { mode?: BenchMode; allowMissing?: boolean } = {},
): BenchComparison {
  const mode = options.mode ?? 'ratio';
  const byName = new Map(base.map((r) => [r.name, r]));
  const names = [...new Set([...base.map((r) => r.name), ...candidate.map((r) => r.name)])].sort();
  const newByName = new Map(candidate.map((r) => [r.name, r]));
  const results = names.map((name): BenchDelta => {
    const b = byName.get(name);
    const c = newByName.get(name);
    const view = (r: BenchResult | undefined) => (r ? { wallP50: r.wallMs.p50, throughputPerSec: r.throughputPerSec, ratio: r.ratio ?? null } : null);
    const empty = { name, wallChange: null, throughputChange: null, ratioChange: null, ratioBetter: null, ratioNoise: null, base: view(b), candidate: view(c) };
    if (!b) return { ...empty, verdict: 'new', reason: 'not in the baseline file' };
    if (!c) return { ...empty, verdict: 'missing', reason: options.allowMissing ? 'not in the new file (allowed)' : 'not in the new file: it failed to run or was dropped (--allow-missing for a partial run)' };
    const wallChange = b.wallMs.p50 > 0 ? (c.wallMs.p50 - b.wallMs.p50) / b.wallMs.p50 : null;
    const throughputChange = b.throughputPerSec > 0 ? (b.throughputPerSec - c.throughputPerSec) / b.throughputPerSec : null;
    const ratioChange = b.ratio !== undefined && c.ratio !== undefined && b.ratio > 0 ? (c.ratio - b.ratio) / b.ratio : null;
    // The direction is the committed baseline's: a new file cannot flip what counts as worse.
    const ratioBetter: BenchDelta['ratioBetter'] = b.ratio === undefined ? null : b.goalIs === 'max' ? 'lower' : 'higher';
    const ratioNoise = ratioChange === null ? null : 2 * Math.sqrt(ratioStandardError(b) ** 2 + ratioStandardError(c) ** 2);
    const deltas = { ...empty, wallChange, throughputChange, ratioChange, ratioBetter, ratioNoise };
    const summary = `ratio ${ratioChange === null ? 'n/a' : `${fmt(b.ratio!)} → ${fmt(c.ratio!)} (${signed(ratioChange)}, ${ratioBetter} is better)`}; wall p50 ${signed(wallChange)}, throughput ${signed(throughputChange === null ? null : -throughputChange)}`;
    let problems: string[];
    if (mode === 'ratio') {
      if (b.ratio === undefined || b.goal === undefined) {
        const what = b.ratio === undefined ? 'the baseline has no same-run ratio' : 'its ratio has no goal (a diagnostic)';
        return { ...deltas, verdict: 'unrated', reason: `${what}: reported, not gated (--absolute gates wall time): ${summary}` };
      }
      if (ratioChange === null) return { ...deltas, verdict: 'fail', reason: `the baseline gates its same-run ratio but the new file has ${c.ratio === undefined ? 'none' : 'a ratio from a zero baseline'} (${summary})` };
      const loss = ratioBetter === 'lower' ? ratioChange : -ratioChange;
      const worse = `ratio ${ratioBetter === 'lower' ? 'rose' : 'fell'} ${pct(loss)}`;
      if (loss > maxRegression && loss > MAX_NOISE_EXCUSE) {
        return { ...deltas, verdict: 'fail', reason: `${worse}, beyond ${pct(maxRegression)} and beyond what noise can excuse (${pct(MAX_NOISE_EXCUSE)}), whatever the timings' spread (±${pct(ratioNoise!)}) (${summary})` };
      }
      if (loss > maxRegression && loss <= ratioNoise!) {
        return { ...deltas, verdict: 'noisy', reason: `${worse}, beyond ${pct(maxRegression)} but within the measurement noise (±${pct(ratioNoise!)}: the timings' spread): not counted; rerun on a quieter machine to decide (${summary})` };
      }
      problems = loss > maxRegression ? [worse] : [];
    } else {
      problems = [
        wallChange !== null && wallChange > maxRegression ? `median wall time +${pct(wallChange)}` : null,
        throughputChange !== null && throughputChange > maxRegression ? `throughput -${pct(throughputChange)}` : null,
      ].filter((p): p is string => p !== null);
    }
    return problems.length > 0
      ? { ...deltas, verdict: 'fail', reason: `${problems.join(' and ')}, beyond ${pct(maxRegression)} (${summary})` }
      : { ...deltas, verdict: 'pass', reason: summary };
  });
  const regressions = results.filter((r) => r.verdict === 'fail' || (r.verdict === 'missing' && !options.allowMissing)).length;
  return { schema: 'runledger.bench-compare/v2', mode, maxRegression, allowMissing: options.allowMissing ?? false, results, regressions, verdict: regressions > 0 ? 'fail' : 'pass' };
}

function pct(fraction: number): string {
  return `${fmt(fraction * 100)}%`;
}

function signed(fraction: number | null): string {
  if (fraction === null) return 'n/a';
  return `${fraction >= 0 ? '+' : ''}${pct(fraction)}`;
}
