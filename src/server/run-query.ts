// The runs table's query: a filter expression, a sort key, free-text search and a page. One grammar
// serves GET /api/runs and `runledger runs --filter` (docs/dashboard.md "Filter expressions"):
//
//   expr       := and ("or" and)*
//   and        := unary ("and" unary)*
//   unary      := "not" unary | "(" expr ")" | comparison
//   comparison := field op value | field "exists"
//   field      := name ("." key)*        status, plan, campaign, verification, … or params.X, metrics.X, latest.X, tags.X
//   op         := "=" | "!=" | "<" | "<=" | ">" | ">=" | "~"   ("~": contains, case-insensitive)
//   value      := number | 'quoted' | "quoted" | bare word
//
// Pure and synchronous: errors are InputErrors that name the column (1-based) where the expression went wrong.
import { InputError } from '../errors.js';

export type FieldValue = string | number | boolean | null;

/** What a filter and a sort see of one run. */
export interface RunQueryRecord {
  fields: Record<(typeof SCALAR_FIELDS)[number], FieldValue>;
  params: Record<string, string | number | boolean>;
  metrics: Record<string, number>;
  latest: Record<string, number>;
  tags: Record<string, string>;
}

export const SCALAR_FIELDS = ['run', 'status', 'stage', 'plan', 'campaign', 'verification', 'backend', 'seed', 'step', 'checkpoints', 'updated'] as const;
export const MAP_FIELDS = ['params', 'metrics', 'latest', 'tags'] as const;

type Op = '=' | '!=' | '<' | '<=' | '>' | '>=' | '~';
export type Filter =
  | { kind: 'and' | 'or'; left: Filter; right: Filter }
  | { kind: 'not'; inner: Filter }
  | { kind: 'compare'; field: string[]; op: Op; value: string | number }
  | { kind: 'exists'; field: string[] };

interface Token {
  kind: 'word' | 'string' | 'number' | 'op' | 'paren';
  text: string;
  /** 1-based column in the expression. */
  column: number;
}

const OPS: readonly Op[] = ['<=', '>=', '!=', '=', '<', '>', '~'];
const WORD = /[A-Za-z0-9_./@:+-]/;

function tokenize(text: string, what: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const column = i + 1;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')') {
      tokens.push({ kind: 'paren', text: c, column });
      i++;
    } else if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) throw new InputError(`${what}, column ${column}: the string opened here is not closed (add ${c})`);
      tokens.push({ kind: 'string', text: text.slice(i + 1, end), column });
      i = end + 1;
    } else if (OPS.some((op) => text.startsWith(op, i))) {
      const op = OPS.find((o) => text.startsWith(o, i))!;
      tokens.push({ kind: 'op', text: op, column });
      i += op.length;
    } else if (WORD.test(c)) {
      let j = i;
      while (j < text.length && WORD.test(text[j]!)) j++;
      const word = text.slice(i, j);
      tokens.push({ kind: /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(word) ? 'number' : 'word', text: word, column });
      i = j;
    } else {
      throw new InputError(`${what}, column ${column}: unexpected character "${c}" (fields, operators = != < <= > >= ~, and/or/not, parentheses and quoted strings)`);
    }
  }
  return tokens;
}

/** Parses a filter expression; `what` names it in errors (e.g. `--filter` or `filter`). */
export function parseFilter(text: string, what = 'filter'): Filter | null {
  if (text.trim() === '') return null;
  const tokens = tokenize(text, what);
  let at = 0;
  const peek = (): Token | undefined => tokens[at];
  const endColumn = text.length + 1;
  const fail = (token: Token | undefined, message: string): never => {
    throw new InputError(`${what}, column ${token?.column ?? endColumn}: ${message}${token ? ` (found "${token.text}")` : ' (found the end of the expression)'}`);
  };
  const keyword = (t: Token | undefined, word: string): boolean => t?.kind === 'word' && t.text.toLowerCase() === word;

  const parseOr = (): Filter => {
    let left = parseAnd();
    while (keyword(peek(), 'or')) {
      at++;
      left = { kind: 'or', left, right: parseAnd() };
    }
    return left;
  };
  const parseAnd = (): Filter => {
    let left = parseUnary();
    while (keyword(peek(), 'and')) {
      at++;
      left = { kind: 'and', left, right: parseUnary() };
    }
    return left;
  };
  const parseUnary = (): Filter => {
    const t = peek();
    if (keyword(t, 'not')) {
      at++;
      return { kind: 'not', inner: parseUnary() };
    }
    if (t?.kind === 'paren' && t.text === '(') {
      at++;
      const inner = parseOr();
      const close = peek();
      if (close?.kind !== 'paren' || close.text !== ')') fail(close, 'expected ")" to close the "(" at column ' + t.column);
      at++;
      return inner;
    }
    return parseComparison();
  };
  const parseComparison = (): Filter => {
    const t = peek();
    if (t?.kind !== 'word' || ['and', 'or', 'not', 'exists'].includes(t.text.toLowerCase())) return fail(t, 'expected a field such as status, campaign or metrics.testAccuracy');
    at++;
    const field = checkField(t, what);
    const op = peek();
    if (keyword(op, 'exists')) {
      at++;
      return { kind: 'exists', field };
    }
    if (op?.kind !== 'op') return fail(op, `expected an operator (= != < <= > >= ~ or "exists") after ${t.text}`);
    at++;
    const v = peek();
    if (v === undefined || v.kind === 'op' || v.kind === 'paren' || keyword(v, 'and') || keyword(v, 'or') || keyword(v, 'not')) {
      return fail(v, `expected a value after "${op.text}" (quote a value that is a keyword)`);
    }
    at++;
    const value = v.kind === 'number' ? Number(v.text) : v.text;
    if ((op.text === '<' || op.text === '<=' || op.text === '>' || op.text === '>=') && typeof value !== 'number' && v.kind !== 'string') {
      // Ordering a bare word is almost always a typo of a number; quoting it says "compare as text".
      return fail(v, `"${op.text}" needs a number (quote the value to compare text)`);
    }
    return { kind: 'compare', field, op: op.text as Op, value };
  };

  const filter = parseOr();
  if (at < tokens.length) fail(tokens[at], 'expected "and", "or" or the end of the expression');
  return filter;
}

function checkField(t: Token, what: string): string[] {
  const parts = t.text.split('.');
  const [head, ...rest] = parts;
  if ((MAP_FIELDS as readonly string[]).includes(head!)) {
    if (rest.length === 0 || rest.some((p) => p === '')) throw new InputError(`${what}, column ${t.column}: "${t.text}" needs a name after "${head}." (e.g. ${head}.${head === 'params' ? 'learningRate' : head === 'tags' ? 'team' : 'testAccuracy'})`);
    return [head!, rest.join('.')];
  }
  if ((SCALAR_FIELDS as readonly string[]).includes(head!) && rest.length === 0) return [head!];
  throw new InputError(`${what}, column ${t.column}: unknown field "${t.text}" (fields: ${SCALAR_FIELDS.join(', ')}, or ${MAP_FIELDS.map((m) => `${m}.NAME`).join(', ')})`);
}

function lookup(record: RunQueryRecord, field: string[]): FieldValue | undefined {
  const [head, key] = field;
  if (key === undefined) return record.fields[head as keyof RunQueryRecord['fields']];
  const map = record[head as (typeof MAP_FIELDS)[number]] as Record<string, FieldValue>;
  return Object.hasOwn(map, key) ? map[key] : undefined;
}

/** A value as a number when it is one or reads as one ("0.01"), else null. */
function asNumber(v: FieldValue | string | number): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return null;
}

function compare(actual: FieldValue | undefined, op: Op, expected: string | number): boolean {
  // A run without the field matches no comparison but "!=" (it is not equal to anything).
  if (actual === undefined || actual === null) return op === '!=';
  if (op === '~') return String(actual).toLowerCase().includes(String(expected).toLowerCase());
  const a = asNumber(actual);
  const e = asNumber(expected);
  const order = a !== null && e !== null ? Math.sign(a - e) : String(actual).localeCompare(String(expected));
  switch (op) {
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
  }
}

export function matches(filter: Filter | null, record: RunQueryRecord): boolean {
  if (filter === null) return true;
  switch (filter.kind) {
    case 'and':
      return matches(filter.left, record) && matches(filter.right, record);
    case 'or':
      return matches(filter.left, record) || matches(filter.right, record);
    case 'not':
      return !matches(filter.inner, record);
    case 'exists': {
      const v = lookup(record, filter.field);
      return v !== undefined && v !== null;
    }
    case 'compare':
      return compare(lookup(record, filter.field), filter.op, filter.value);
  }
}

export interface SortKey {
  field: string[];
  descending: boolean;
}

/** `metrics.testAccuracy`, `-metrics.testAccuracy` or `metrics.testAccuracy:desc`. */
export function parseSort(text: string, what = 'sort'): SortKey | null {
  const t = text.trim();
  if (t === '') return null;
  let descending = t.startsWith('-');
  let name = descending ? t.slice(1) : t;
  const suffix = /:(asc|desc)$/i.exec(name);
  if (suffix) {
    descending = suffix[1]!.toLowerCase() === 'desc';
    name = name.slice(0, suffix.index);
  }
  return { field: checkField({ kind: 'word', text: name, column: descending && !suffix ? 2 : 1 }, what), descending };
}

/** Sorts by the key, runs without a value last whichever the direction; ties keep the input order. */
export function sortRecords<T>(items: T[], key: SortKey | null, record: (item: T) => RunQueryRecord): T[] {
  if (key === null) return items;
  const keyed = items.map((item, index) => ({ item, index, v: lookup(record(item), key.field) }));
  keyed.sort((x, y) => {
    const xm = x.v === undefined || x.v === null;
    const ym = y.v === undefined || y.v === null;
    if (xm || ym) return xm === ym ? x.index - y.index : xm ? 1 : -1;
    const a = asNumber(x.v!);
    const b = asNumber(y.v!);
    const order = a !== null && b !== null ? a - b : String(x.v).localeCompare(String(y.v));
    return (key.descending ? -order : order) || x.index - y.index;
  });
  return keyed.map((k) => k.item);
}

/** Free-text search: every word appears in the run id, plan, campaign, status, stage, a param or a tag (case-insensitive). */
export function searchMatches(query: string, record: RunQueryRecord): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const f = record.fields;
  const haystack = [f.run, f.plan, f.campaign, f.status, f.stage, f.backend, ...Object.entries(record.params).flat(), ...Object.entries(record.tags).flat()]
    .filter((v) => v !== null && v !== undefined)
    .join('\u0000')
    .toLowerCase();
  return words.every((w) => haystack.includes(w));
}

export interface RunQuery {
  filter?: string;
  sort?: string;
  q?: string;
}

/** Filters, searches and sorts; parse errors first, so bad input answers before any work. */
export function queryRuns<T>(items: T[], query: RunQuery, record: (item: T) => RunQueryRecord, names: { filter?: string; sort?: string } = {}): T[] {
  const filter = parseFilter(query.filter ?? '', names.filter);
  const sort = parseSort(query.sort ?? '', names.sort);
  const q = query.q ?? '';
  return sortRecords(
    items.filter((item) => {
      const r = record(item);
      return matches(filter, r) && searchMatches(q, r);
    }),
    sort,
    record,
  );
}
