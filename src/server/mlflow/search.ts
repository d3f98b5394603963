// MLflow's search grammar (mlflow/utils/search_utils.py), evaluated over what the ledger answers:
// `filter` is clauses joined by AND — `<entity>.<key> <comparator> <value>`, where a bare key is an
// attribute and a key may be `backticked` or "double-quoted" — and `order_by` is a list of
// `<entity>.<key> [ASC|DESC]`. Each search endpoint says which entities and attributes it has and
// how to read them from an item (a SearchFields); anything it does not have is refused with the
// reason, never ignored. LIKE/ILIKE are matched without regular expressions (no backtracking blow-up
// on a hostile pattern).
import { invalid } from './errors.js';

export type Comparator = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'LIKE' | 'ILIKE' | 'IN' | 'NOT IN' | 'IS NULL' | 'IS NOT NULL';
type Value = string | number | string[] | null;
type Field = string | number | null | undefined;

/** What one search endpoint can filter and order by. Keys of `attributes` are MLflow's names. */
export interface SearchFields<T> {
  attributes: Record<string, { kind: 'string' | 'number'; list?: boolean; get: (item: T) => Field }>;
  metric?: (item: T, key: string) => number | undefined;
  param?: (item: T, key: string) => string | undefined;
  tag?: (item: T, key: string) => string | undefined;
  /** Attributes order_by accepts (default: all of `attributes`). */
  orderable?: readonly string[];
}

type Entity = 'attribute' | 'metric' | 'param' | 'tag';
export interface Clause {
  entity: Entity;
  key: string;
  comparator: Comparator;
  value: Value;
}

const ENTITIES: Record<string, Entity> = {
  attribute: 'attribute', attributes: 'attribute', attr: 'attribute', run: 'attribute',
  metric: 'metric', metrics: 'metric',
  param: 'param', params: 'param', parameter: 'param', parameters: 'param',
  tag: 'tag', tags: 'tag',
};
const NUMERIC: readonly Comparator[] = ['=', '!=', '<', '<=', '>', '>='];
const STRING: readonly Comparator[] = ['=', '!=', 'LIKE', 'ILIKE'];
/** MLflow's filter strings are short; this bounds the work a hostile one can ask for. */
export const MAX_FILTER_CHARS = 4096;
/** The prompt tag MLflow 3 clients add to every registered-model search (`!= 'true'`): no model here is a prompt. */
const IS_PROMPT_TAG = 'mlflow.prompt.is_prompt';

interface Token {
  kind: 'ident' | 'string' | 'number' | 'op' | 'word' | 'punct';
  text: string;
  at: number;
}

function tokenize(filter: string, where: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s+|(?<ident>[A-Za-z_][\w]*(?:\.(?:`[^`]*`|"[^"]*"|[\w.]+))?|`[^`]*`|"[^"]*")|(?<string>'(?:[^']|'')*')|(?<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?<op><=|>=|!=|<>|=|<|>)|(?<punct>[(),])/y;
  let at = 0;
  while (at < filter.length) {
    re.lastIndex = at;
    const m = re.exec(filter);
    if (!m) throw invalid(`${where}: filter: unexpected ${JSON.stringify(filter.slice(at, at + 20))} at character ${at + 1}`);
    const g = m.groups!;
    const text = m[0];
    if (g.ident !== undefined) tokens.push({ kind: /^(and|or|not|in|like|ilike|is|null)$/i.test(text) ? 'word' : 'ident', text, at });
    else if (g.string !== undefined) tokens.push({ kind: 'string', text: text.slice(1, -1).replaceAll("''", "'"), at });
    else if (g.number !== undefined) tokens.push({ kind: 'number', text, at });
    else if (g.op !== undefined) tokens.push({ kind: 'op', text: text === '<>' ? '!=' : text, at });
    else if (g.punct !== undefined) tokens.push({ kind: 'punct', text, at });
    at = re.lastIndex;
  }
  return tokens;
}

const unquote = (s: string): string => (/^(`[^`]*`|"[^"]*")$/.test(s) ? s.slice(1, -1) : s);

/** `metrics.loss` → metric "loss"; a bare `name` → attribute "name". */
function identifier(text: string, where: string): { entity: Entity; key: string } {
  const dot = /^[A-Za-z_]\w*\./.exec(text);
  if (!dot) return { entity: 'attribute', key: unquote(text) };
  const prefix = dot[0].slice(0, -1);
  const entity = ENTITIES[prefix.toLowerCase()];
  if (!entity) throw invalid(`${where}: ${JSON.stringify(prefix)} is not an entity MLflow's search knows (attributes, metrics, params, tags)`);
  return { entity, key: unquote(text.slice(dot[0].length)) };
}

function checkEntity<T>(fields: SearchFields<T>, entity: Entity, key: string, where: string): void {
  if (entity === 'attribute') {
    if (!Object.hasOwn(fields.attributes, key)) throw invalid(`${where}: attribute ${JSON.stringify(key)} cannot be searched here; valid attributes are ${Object.keys(fields.attributes).join(', ')}`);
  } else if (fields[entity] === undefined) {
    throw invalid(`${where}: ${entity}s cannot be searched here`);
  }
}

/** Parses `filter` into clauses, refusing what this endpoint cannot evaluate. Empty or absent: no clauses. */
export function parseFilter<T>(filter: string | undefined, fields: SearchFields<T>, where: string): Clause[] {
  if (filter === undefined || filter.trim() === '') return [];
  if (filter.length > MAX_FILTER_CHARS) throw invalid(`${where}: filter is ${filter.length} characters, more than the ${MAX_FILTER_CHARS} this server evaluates`);
  const w = `${where}: filter`;
  const tokens = tokenize(filter, w);
  const clauses: Clause[] = [];
  let i = 0;
  const peekWord = (word: string): boolean => tokens[i]?.kind === 'word' && tokens[i]!.text.toUpperCase() === word;
  const expect = (what: string): Token => {
    const t = tokens[i++];
    if (!t) throw invalid(`${w}: ends where ${what} was expected`);
    return t;
  };
  for (;;) {
    const id = expect('an identifier such as metrics.loss');
    if (id.kind !== 'ident') throw invalid(`${w}: expected an identifier such as metrics.loss at character ${id.at + 1}, found ${JSON.stringify(id.text)}`);
    const { entity, key } = identifier(id.text, w);
    checkEntity(fields, entity, key, w);
    let comparator: Comparator;
    const c = expect('a comparator');
    if (c.kind === 'op') comparator = c.text as Comparator;
    else if (c.kind === 'word' && /^(LIKE|ILIKE|IN)$/i.test(c.text)) comparator = c.text.toUpperCase() as Comparator;
    else if (c.kind === 'word' && /^NOT$/i.test(c.text) && peekWord('IN')) {
      i++;
      comparator = 'NOT IN';
    } else if (c.kind === 'word' && /^IS$/i.test(c.text)) {
      const not = peekWord('NOT');
      if (not) i++;
      if (!peekWord('NULL')) throw invalid(`${w}: IS must be followed by NULL or NOT NULL at character ${c.at + 1}`);
      i++;
      comparator = not ? 'IS NOT NULL' : 'IS NULL';
    } else {
      throw invalid(`${w}: expected a comparator after ${id.text} at character ${c.at + 1}, found ${JSON.stringify(c.text)}`);
    }
    const value = clauseValue(fields, entity, key, comparator, () => expect('a value'), w);
    clauses.push({ entity, key, comparator, value });
    if (i >= tokens.length) break;
    const and = tokens[i++]!;
    if (and.kind === 'word' && and.text.toUpperCase() === 'OR') throw invalid(`${w}: OR is not part of MLflow's search grammar (clauses are joined by AND) at character ${and.at + 1}`);
    if (!(and.kind === 'word' && and.text.toUpperCase() === 'AND')) throw invalid(`${w}: expected AND at character ${and.at + 1}, found ${JSON.stringify(and.text)}`);
  }
  return clauses;
}

function clauseValue<T>(fields: SearchFields<T>, entity: Entity, key: string, comparator: Comparator, next: () => Token, w: string): Value {
  const numeric = entity === 'metric' || (entity === 'attribute' && fields.attributes[key]!.kind === 'number');
  const name = entity === 'attribute' ? key : `${entity}s.${key}`;
  if (comparator === 'IS NULL' || comparator === 'IS NOT NULL') {
    if (entity !== 'param' && entity !== 'tag') throw invalid(`${w}: ${comparator} applies to params and tags only, not ${name}`);
    return null;
  }
  if (comparator === 'IN' || comparator === 'NOT IN') {
    if (entity !== 'attribute' || !fields.attributes[key]!.list) throw invalid(`${w}: ${comparator} is not supported for ${name}`);
    const open = next();
    if (open.text !== '(') throw invalid(`${w}: ${comparator} needs a parenthesised list of quoted strings after ${name}`);
    const list: string[] = [];
    for (;;) {
      const v = next();
      if (v.kind !== 'string') throw invalid(`${w}: the list after ${name} ${comparator} holds quoted strings only, found ${JSON.stringify(v.text)}`);
      list.push(v.text);
      const sep = next();
      if (sep.text === ')') break;
      if (sep.text !== ',') throw invalid(`${w}: expected , or ) in the list after ${name} ${comparator}`);
    }
    return list;
  }
  const allowed = numeric ? NUMERIC : STRING;
  if (!allowed.includes(comparator)) throw invalid(`${w}: comparator ${comparator} is not supported for ${name} (${numeric ? 'a number' : 'a string'}: ${allowed.join(', ')})`);
  const v = next();
  if (numeric) {
    if (v.kind !== 'number' && !(v.kind === 'string' && entity === 'attribute' && /^-?\d+$/.test(v.text))) throw invalid(`${w}: ${name} compares with a number, found ${JSON.stringify(v.text)}`);
    return Number(v.text);
  }
  if (v.kind !== 'string') throw invalid(`${w}: ${name} compares with a quoted string ('…'), found ${JSON.stringify(v.text)}`);
  return v.text;
}

/**
 * SQL LIKE: `%` any run of characters, `_` one character, everything else literal (code points).
 * Greedy two-pointer matching with one backtrack point: O(pattern × text) at worst, no regex.
 */
export function like(text: string, pattern: string, caseInsensitive = false): boolean {
  const t = [...(caseInsensitive ? text.toLowerCase() : text)];
  const p = [...(caseInsensitive ? pattern.toLowerCase() : pattern)];
  let ti = 0;
  let pi = 0;
  let star = -1;
  let mark = 0;
  while (ti < t.length) {
    if (pi < p.length && (p[pi] === '_' || (p[pi] !== '%' && p[pi] === t[ti]))) {
      ti++;
      pi++;
    } else if (pi < p.length && p[pi] === '%') {
      star = pi++;
      mark = ti;
    } else if (star >= 0) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '%') pi++;
  return pi === p.length;
}

function compare(lhs: string | number, comparator: Comparator, value: Value): boolean {
  switch (comparator) {
    case '=': return lhs === value;
    case '!=': return lhs !== value;
    case '<': return (lhs as number) < (value as number);
    case '<=': return (lhs as number) <= (value as number);
    case '>': return (lhs as number) > (value as number);
    case '>=': return (lhs as number) >= (value as number);
    case 'LIKE': return like(String(lhs), value as string);
    case 'ILIKE': return like(String(lhs), value as string, true);
    case 'IN': return (value as string[]).includes(String(lhs));
    case 'NOT IN': return !(value as string[]).includes(String(lhs));
    default: return false;
  }
}

function read<T>(fields: SearchFields<T>, item: T, entity: Entity, key: string): Field {
  if (entity === 'attribute') return fields.attributes[key]!.get(item);
  return fields[entity]!(item, key);
}

/** Whether `item` satisfies every clause, with MLflow's rules for absent values (absent matches nothing but IS NULL). */
export function matches<T>(fields: SearchFields<T>, item: T, clauses: readonly Clause[]): boolean {
  return clauses.every((c) => {
    const lhs = read(fields, item, c.entity, c.key);
    if (c.comparator === 'IS NULL') return lhs === undefined || lhs === null;
    if (c.comparator === 'IS NOT NULL') return lhs !== undefined && lhs !== null;
    if (lhs === undefined || lhs === null) {
      // MLflow: an item without the prompt tag is not a prompt.
      if (c.entity === 'tag' && c.key === IS_PROMPT_TAG) return (c.comparator === '!=' && c.value === 'true') || (c.comparator === '=' && c.value === 'false');
      return false;
    }
    return compare(lhs, c.comparator, c.value);
  });
}

export interface Ordering {
  entity: Entity;
  key: string;
  ascending: boolean;
}

/** Parses `order_by` entries (`metrics.loss DESC`, `name`, `attributes.start_time ASC`). */
export function parseOrderBy<T>(orderBy: readonly string[] | undefined, fields: SearchFields<T>, where: string): Ordering[] {
  return (orderBy ?? []).map((entry) => {
    const m = /^\s*(\S(?:.*\S)?)\s+(ASC|DESC)\s*$/i.exec(entry) ?? /^\s*(\S(?:.*\S)?)\s*$/.exec(entry);
    if (!m) throw invalid(`${where}: order_by entry ${JSON.stringify(entry.slice(0, 80))} is empty`);
    const { entity, key } = identifier(m[1]!, `${where}: order_by`);
    checkEntity(fields, entity, key, `${where}: order_by`);
    if (entity === 'attribute' && fields.orderable !== undefined && !fields.orderable.includes(key)) throw invalid(`${where}: order_by: attribute ${JSON.stringify(key)} cannot order results here; valid are ${fields.orderable.join(', ')}`);
    return { entity, key, ascending: (m[2] ?? 'ASC').toUpperCase() === 'ASC' };
  });
}

/**
 * Sorts `items` (a copy) by `orderings`, absent values last whichever the direction, and keeps the
 * order of `items` (the endpoint's default order) among equals.
 */
export function ordered<T>(fields: SearchFields<T>, items: readonly T[], orderings: readonly Ordering[]): T[] {
  if (orderings.length === 0) return [...items];
  const keyed = items.map((item, index) => ({ item, index, values: orderings.map((o) => read(fields, item, o.entity, o.key)) }));
  keyed.sort((a, b) => {
    for (let k = 0; k < orderings.length; k++) {
      const x = a.values[k];
      const y = b.values[k];
      const xAbsent = x === undefined || x === null;
      const yAbsent = y === undefined || y === null;
      if (xAbsent || yAbsent) {
        if (xAbsent !== yAbsent) return xAbsent ? 1 : -1;
        continue;
      }
      if (x === y) continue;
      const less = x! < y!;
      return (less ? -1 : 1) * (orderings[k]!.ascending ? 1 : -1);
    }
    return a.index - b.index;
  });
  return keyed.map((k) => k.item);
}

/** filter + order_by over items already in the endpoint's default order. */
export function search<T>(items: readonly T[], fields: SearchFields<T>, request: { filter?: string | undefined; order_by?: string[] | undefined }, where: string): T[] {
  const clauses = parseFilter(request.filter, fields, where);
  const orderings = parseOrderBy(request.order_by, fields, where);
  return ordered(fields, items.filter((item) => matches(fields, item, clauses)), orderings);
}
