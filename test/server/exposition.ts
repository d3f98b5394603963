// A strict parser of the Prometheus text exposition format 0.0.4 (prom-client ships none): HELP and
// TYPE at most once per family and before its samples; names and labels by the grammar; escaped
// label values; float values; no duplicate series; every sample in a declared family with the
// suffixes its type allows; histogram buckets cumulative, ending in +Inf equal to _count.
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string | null;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class ExpositionError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
  }
}

function parseValue(text: string, line: number): number {
  // Prometheus reads values with Go's strconv.ParseFloat, which takes Inf and NaN in any case
  // (prom-client writes the event-loop gauges' NaN as "Nan").
  if (/^\+?inf(inity)?$/i.test(text)) return Infinity;
  if (/^-inf(inity)?$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new ExpositionError(line, `"${text}" is not a float`);
  return Number(text);
}

function parseLabels(text: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new ExpositionError(line, `label without "=" in {${text}}`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new ExpositionError(line, `bad label name "${name}"`);
    if (name in labels) throw new ExpositionError(line, `label "${name}" twice`);
    if (text[eq + 1] !== '"') throw new ExpositionError(line, `label "${name}" value is not quoted`);
    let value = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        const next = text[++j];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else throw new ExpositionError(line, `bad escape \\${next ?? ''} in label "${name}"`);
      } else if (text[j] === '\n') throw new ExpositionError(line, 'raw newline in a label value');
      else value += text[j];
    }
    if (j >= text.length) throw new ExpositionError(line, `unterminated value of label "${name}"`);
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
    else if (i < text.length) throw new ExpositionError(line, `expected "," after label "${name}"`);
  }
  return labels;
}

function familyOf(sample: string, families: Map<string, Family>): Family | undefined {
  const exact = families.get(sample);
  if (exact) return exact;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sample.endsWith(suffix)) continue;
    const f = families.get(sample.slice(0, -suffix.length));
    if (f && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f;
  }
  return undefined;
}

export function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new ExpositionError(0, 'the exposition does not end with a newline');
  const families = new Map<string, Family>();
  const series = new Set<string>();
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((raw, k) => {
    const line = k + 1;
    if (raw.trim() === '') return;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new ExpositionError(line, `bad metric name "${name}"`);
      let family = families.get(name);
      if (family && family.samples.length > 0) throw new ExpositionError(line, `${kind} of ${name} after its samples`);
      family ??= { name, type: 'untyped', help: null, samples: [] };
      if (kind === 'HELP') {
        if (family.help !== null) throw new ExpositionError(line, `second HELP for ${name}`);
        family.help = rest;
      } else {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new ExpositionError(line, `unknown type "${rest}"`);
        family.type = rest as MetricType;
      }
      families.set(name, family);
      return;
    }
    if (raw.startsWith('#')) return; // other comments are allowed
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(raw);
    if (!m) throw new ExpositionError(line, `not a sample line: ${raw}`);
    const [, name, labelText, valueText] = m as unknown as [string, string, string | undefined, string];
    const labels = labelText ? parseLabels(labelText, line) : {};
    const family = familyOf(name, families);
    if (!family) throw new ExpositionError(line, `sample ${name} belongs to no declared family`);
    if (family.type === 'histogram' && name === family.name) throw new ExpositionError(line, `histogram ${name} sample without _bucket/_sum/_count`);
    if (name.endsWith('_bucket') && family.type === 'histogram' && labels.le === undefined) throw new ExpositionError(line, `bucket without le`);
    const key = `${name}{${Object.entries(labels).sort().map(([a, b]) => `${a}=${JSON.stringify(b)}`).join(',')}}`;
    if (series.has(key)) throw new ExpositionError(line, `duplicate series ${key}`);
    series.add(key);
    family.samples.push({ name, labels, value: parseValue(valueText, line) });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, { le: number; value: number }[]>();
  const counts = new Map<string, number>();
  const keyOf = (labels: Record<string, string>): string => JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort());
  for (const s of f.samples) {
    if (s.name === `${f.name}_bucket`) groups.set(keyOf(s.labels), [...(groups.get(keyOf(s.labels)) ?? []), { le: parseValue(s.labels.le!, 0), value: s.value }]);
    if (s.name === `${f.name}_count`) counts.set(keyOf(s.labels), s.value);
  }
  for (const [key, buckets] of groups) {
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]!.le > buckets[i - 1]!.le)) throw new ExpositionError(0, `${f.name}${key}: le not increasing`);
      if (buckets[i]!.value < buckets[i - 1]!.value) throw new ExpositionError(0, `${f.name}${key}: buckets not cumulative`);
    }
    const last = buckets.at(-1)!;
    if (last.le !== Infinity) throw new ExpositionError(0, `${f.name}${key}: no +Inf bucket`);
    if (counts.get(key) !== last.value) throw new ExpositionError(0, `${f.name}${key}: +Inf bucket ${last.value} differs from _count ${counts.get(key)}`);
  }
}

/** The value of one series, or undefined. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    const s = f.samples.find((x) => x.name === name && Object.keys(labels).every((k) => x.labels[k] === labels[k]) && Object.keys(x.labels).length === Object.keys(labels).length);
    if (s) return s.value;
  }
  return undefined;
}
