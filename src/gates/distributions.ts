// Distribution functions behind the multi-candidate statistics: log-gamma, the regularized
// incomplete gamma and beta functions (χ², F and Student t tails), and — by quadrature over the
// scaled-χ variable S = sqrt(χ²_ν / ν) — the noncentral t and the studentized range. Pure and
// deterministic: the same arguments give the same bits on every platform (no Math.random, no
// platform libm beyond exp/log/pow/sqrt/cos).
import { normalCdf } from './statistics.js';

// Lanczos approximation, g = 7, n = 9 (coefficients of P. Godfrey), |relative error| < 1e-15.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** log Γ(x) for x > 0. */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma needs x > 0, got ${x}`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x); // reflection, DLMF 5.5.3
  const z = x - 1;
  let a = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

const EPS = 1e-16;
const TINY = 1e-300;
const MAX_TERMS = 10_000;

/** Regularized upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a) (DLMF 8.2.4). */
export function upperGamma(a: number, x: number): number {
  if (x <= 0) return 1;
  const front = Math.exp(-x + a * Math.log(x) - logGamma(a));
  if (x < a + 1) {
    // Series for P(a, x), DLMF 8.11.4 via γ*(a, x).
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < MAX_TERMS && Math.abs(term) > Math.abs(sum) * EPS; n++) {
      term *= x / (a + n);
      sum += term;
    }
    return 1 - sum * front;
  }
  // Continued fraction for Q(a, x), DLMF 8.9.2, by the modified Lentz method.
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_TERMS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return front * h;
}

/** Regularized incomplete beta I_x(a, b) (DLMF 8.17.2). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  // The continued fraction converges fast below the mean; above it use I_x(a,b) = 1 - I_{1-x}(b,a).
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const front = Math.exp(a * Math.log(x) + b * Math.log1p(-x) - (logGamma(a) + logGamma(b) - logGamma(a + b))) / a;
  // DLMF 8.17.22: 1/(1+ d1/(1+ d2/(1+ ...))), modified Lentz.
  let f = TINY;
  let c = f;
  let d = 0;
  for (let j = 1; j < MAX_TERMS; j++) {
    let aj: number;
    if (j === 1) aj = 1;
    else {
      const k = j - 1; // d_k
      const m = Math.floor(k / 2);
      aj = k % 2 === 1 ? (-(a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1)) : (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
    }
    d = 1 + aj * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aj / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return front * f;
}

/** P(χ²_k > x). */
export function chiSquareSf(x: number, k: number): number {
  return upperGamma(k / 2, x / 2);
}

/** P(F_{d1,d2} > f). */
export function fSf(f: number, d1: number, d2: number): number {
  if (f <= 0) return 1;
  return incompleteBeta(d2 / (d2 + d1 * f), d2 / 2, d1 / 2);
}

/** P(T_ν <= t) of Student's t (DLMF 8.17.1 with x = ν/(ν+t²)). */
export function studentTCdf(t: number, df: number): number {
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t > 0 ? 1 - tail : tail;
}

/** P(T_ν > t). */
export function studentTSf(t: number, df: number): number {
  return studentTCdf(-t, df);
}

/**
 * The x in [lo, hi] where the increasing function f reaches `target`: regula falsi with the
 * Illinois modification (Dowell & Jarratt 1971), which keeps the root bracketed and converges
 * superlinearly. `hi` is doubled until it brackets the target.
 */
export function solveIncreasing(f: (x: number) => number, target: number, lo: number, hi: number, tolerance = 1e-12): number {
  let a = lo;
  let fa = f(a) - target;
  let b = hi;
  let fb = f(b) - target;
  for (let i = 0; fb < 0 && i < 60; i++) {
    a = b;
    fa = fb;
    b = b === 0 ? 1 : b * 2;
    fb = f(b) - target;
  }
  if (fa > 0 || fb < 0) throw new RangeError(`cannot bracket ${target} in [${lo}, ${hi}]`);
  if (fa === 0) return a;
  if (fb === 0) return b;
  let retained: 'a' | 'b' | null = null;
  let previous = NaN;
  for (let i = 0; i < 200; i++) {
    const c = (a * fb - b * fa) / (fb - fa);
    const fc = f(c) - target;
    const close = tolerance * Math.max(1, Math.abs(c));
    if (fc === 0 || Math.abs(b - a) <= close || Math.abs(c - previous) <= close) return c;
    previous = c;
    if (fc < 0) {
      a = c;
      fa = fc;
      if (retained === 'b') fb /= 2;
      retained = 'b';
    } else {
      b = c;
      fb = fc;
      if (retained === 'a') fa /= 2;
      retained = 'a';
    }
    if (Math.abs(b - a) <= tolerance * Math.max(1, Math.abs(c))) return (a + b) / 2;
  }
  return (a + b) / 2;
}

/** The p-quantile of the standard normal distribution. */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile needs 0 < p < 1, got ${p}`);
  return solveIncreasing(normalCdf, p, -40, 40, 1e-15);
}

/** The p-quantile of Student's t with df degrees of freedom. */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`studentTQuantile needs 0 < p < 1, got ${p}`);
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  return solveIncreasing((t) => studentTCdf(t, df), p, 0, 8);
}

// ---- Quadrature -----------------------------------------------------------------------------

interface Rule {
  nodes: Float64Array;
  weights: Float64Array;
}

/** Gauss–Legendre nodes and weights on [-1, 1], by Newton's method on P_n (Abramowitz & Stegun 25.4.29). */
export function gaussLegendre(n: number): Rule {
  const nodes = new Float64Array(n);
  const weights = new Float64Array(n);
  for (let i = 0; i < Math.ceil(n / 2); i++) {
    let x = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let dp = 0;
    for (let iter = 0; iter < 100; iter++) {
      let p0 = 1;
      let p1 = x;
      for (let k = 2; k <= n; k++) {
        const p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      dp = (n * (x * p1 - p0)) / (x * x - 1);
      const dx = p1 / dp;
      x -= dx;
      if (Math.abs(dx) < 1e-16) break;
    }
    nodes[i] = -x;
    nodes[n - 1 - i] = x;
    weights[i] = weights[n - 1 - i] = 2 / ((1 - x * x) * dp * dp);
  }
  return { nodes, weights };
}

const GL = gaussLegendre(10);

/** Points and weights of composite 10-point Gauss–Legendre over [lo, hi] in `panels` panels. */
function compositeRule(lo: number, hi: number, panels: number): Rule {
  const n = GL.nodes.length;
  const nodes = new Float64Array(n * panels);
  const weights = new Float64Array(n * panels);
  const width = (hi - lo) / panels;
  for (let p = 0; p < panels; p++) {
    const mid = lo + (p + 0.5) * width;
    for (let i = 0; i < n; i++) {
      nodes[p * n + i] = mid + (width / 2) * GL.nodes[i]!;
      weights[p * n + i] = (width / 2) * GL.weights[i]!;
    }
  }
  return { nodes, weights };
}

/**
 * Quadrature for E[h(S)] with S = sqrt(χ²_ν / ν), density 2 (ν/2)^{ν/2} s^{ν-1} e^{-ν s²/2} / Γ(ν/2):
 * nodes cover the region where the log-density is within 50 of its maximum (the rest weighs
 * less than e^-50), weights include the density. Cached per (ν, panels): a rule serves many calls.
 */
function scaledChiRule(df: number, panels: number): Rule {
  const key = `${df}/${panels}`;
  const cached = chiRules.get(key);
  if (cached) return cached;
  if (!(df >= 1)) throw new RangeError(`the scaled-χ quadrature needs ν >= 1, got ${df}`);
  const logNorm = Math.log(2) + (df / 2) * Math.log(df / 2) - logGamma(df / 2);
  const logShape = (s: number): number => (df === 1 ? 0 : (df - 1) * Math.log(s)) - (df * s * s) / 2;
  const mode = Math.sqrt((df - 1) / df);
  const peak = logShape(Math.max(mode, 1e-300));
  const drop = (s: number): number => peak - logShape(s); // 0 at the mode, growing away from it
  const hi = solveIncreasing(drop, 50, Math.max(mode, 1e-300), mode + 10, 1e-9);
  const floor = mode * 1e-12;
  const lo = df === 1 || drop(floor) <= 50 ? 0 : solveIncreasing((s) => -drop(s), -50, floor, mode, 1e-9);
  const base = compositeRule(lo, hi, panels);
  const weights = base.weights.map((w, i) => w * Math.exp(logNorm + logShape(base.nodes[i]!)));
  const rule = { nodes: base.nodes, weights };
  if (chiRules.size > 256) chiRules.clear();
  chiRules.set(key, rule);
  return rule;
}
const chiRules = new Map<string, Rule>();

// Panels of the S rule: the noncentral t integrand is cheap, so it gets more; the studentized range
// integrand is itself an integral, and 12 outer panels already agree with scipy to ~1e-13.
const NCT_PANELS = 32;
const RANGE_PANELS = 12;

function expectOverS(df: number, panels: number, h: (s: number) => number): number {
  const { nodes, weights } = scaledChiRule(df, panels);
  let sum = 0;
  for (let i = 0; i < nodes.length; i++) sum += weights[i]! * h(nodes[i]!);
  return sum;
}

/** P(T <= t) for the noncentral t with ν degrees of freedom and noncentrality δ: E[Φ(tS - δ)]. */
export function noncentralTCdf(t: number, df: number, nc: number): number {
  return expectOverS(df, NCT_PANELS, (s) => normalCdf(t * s - nc));
}

/** P(T > t) for the noncentral t: E[Φ(δ - tS)] (no cancellation in the upper tail). */
export function noncentralTSf(t: number, df: number, nc: number): number {
  return expectOverS(df, NCT_PANELS, (s) => normalCdf(nc - t * s));
}

// The range W of k standard normals: P(W <= w) = k ∫ φ(z) [Φ(z) - Φ(z - w)]^{k-1} dz
// (Hartley 1942). φ(z) vanishes below 1e-16 outside |z| <= 8.5, so the rule covers [-8.5, 8.5].
const RANGE_RULE = compositeRule(-8.5, 8.5, 12);
const RANGE_PHI = RANGE_RULE.nodes.map((z, i) => (RANGE_RULE.weights[i]! * Math.exp((-z * z) / 2)) / Math.sqrt(2 * Math.PI));
const RANGE_CDF = RANGE_RULE.nodes.map((z) => normalCdf(z));

function normalRangeCdf(w: number, k: number): number {
  if (w <= 0) return 0;
  let sum = 0;
  for (let i = 0; i < RANGE_RULE.nodes.length; i++) {
    const inner = RANGE_CDF[i]! - normalCdf(RANGE_RULE.nodes[i]! - w);
    if (inner > 0) sum += RANGE_PHI[i]! * Math.pow(inner, k - 1);
  }
  return Math.min(1, k * sum);
}

/**
 * P(Q <= q) for the studentized range of k groups and ν error degrees of freedom, Q = W / S:
 * E[P(W <= qS)] over S (Tukey 1953; the distribution scipy.stats.studentized_range implements).
 */
export function studentizedRangeCdf(q: number, k: number, df: number): number {
  if (q <= 0) return 0;
  return Math.min(1, expectOverS(df, RANGE_PANELS, (s) => normalRangeCdf(q * s, k)));
}

export function studentizedRangeSf(q: number, k: number, df: number): number {
  return Math.max(0, 1 - studentizedRangeCdf(q, k, df));
}

/** The p-quantile of the studentized range (Tukey's critical value q_{p; k, ν}). */
export function studentizedRangeQuantile(p: number, k: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`studentizedRangeQuantile needs 0 < p < 1, got ${p}`);
  return solveIncreasing((q) => studentizedRangeCdf(q, k, df), p, 0, 8, 1e-11);
}
