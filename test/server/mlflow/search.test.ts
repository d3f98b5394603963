// MLflow's search grammar as src/server/mlflow/search.ts evaluates it: LIKE without regular
// expressions agrees with the obvious regex translation (fast-check), clauses parse as MLflow
// spells them (backticks, quotes, IN lists, IS NULL), and what an endpoint cannot evaluate is
// refused with where it went wrong — never silently ignored.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { like, parseFilter, parseOrderBy, search, type SearchFields } from '../../../src/server/mlflow/search.js';

interface Item {
  name: string;
  n: number;
  tags: Record<string, string>;
  metrics: Record<string, number>;
}
const FIELDS: SearchFields<Item> = {
  attributes: { name: { kind: 'string', list: true, get: (i) => i.name }, n: { kind: 'number', get: (i) => i.n } },
  metric: (i, k) => i.metrics[k],
  tag: (i, k) => i.tags[k],
};
const items: Item[] = [
  { name: 'alpha', n: 1, tags: { team: 'vision' }, metrics: { loss: 0.5 } },
  { name: 'beta', n: 2, tags: { 'my.key': 'x' }, metrics: {} },
  { name: "o'brien", n: 3, tags: { team: 'audio' }, metrics: { loss: 0.25 } },
];
const names = (filter: string, order?: string[]) => search(items, FIELDS, { filter, ...(order ? { order_by: order } : {}) }, 'test').map((i) => i.name);

/** The reference: SQL LIKE as an anchored regular expression. */
const likeByRegex = (text: string, pattern: string, ci: boolean): boolean => {
  const body = [...pattern].map((ch) => (ch === '%' ? '.*' : ch === '_' ? '.' : ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, `su${ci ? 'i' : ''}`).test(text);
};

describe('MLflow search grammar', () => {
  it('matches LIKE and ILIKE exactly as the regex translation does, over random texts and patterns', () => {
    const alphabet = fc.constantFrom('a', 'b', 'A', '%', '_', '.', 'é', '😀', '\n');
    const str = fc.array(alphabet, { maxLength: 12 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(str, str, fc.boolean(), (text, pattern, ci) => {
        // Case folding as JavaScript does it, on both sides (the regex's i flag folds the same letters here).
        assert.equal(like(text, pattern, ci), likeByRegex(text, pattern, ci), `${JSON.stringify(text)} LIKE ${JSON.stringify(pattern)}`);
      }),
      { numRuns: 5000 },
    );
  });

  it('evaluates clauses joined by AND, with quoted and backticked keys, IN lists and absent values', () => {
    assert.deepEqual(names("name = 'alpha'"), ['alpha']);
    assert.deepEqual(names("name = 'o''brien'"), ["o'brien"], "'' is a quote inside a string");
    assert.deepEqual(names('metrics.loss < 0.4'), ["o'brien"]);
    assert.deepEqual(names('metrics.loss >= 0.25 AND n > 1'), ["o'brien"]);
    assert.deepEqual(names("tags.`my.key` = 'x'"), ['beta']);
    assert.deepEqual(names('tags."my.key" = \'x\''), ['beta']);
    assert.deepEqual(names("tags.team != 'vision'"), ["o'brien"], 'an absent tag matches no comparison');
    assert.deepEqual(names("tags.team IS NULL"), ['beta']);
    assert.deepEqual(names("tags.team IS NOT NULL and name not in ('alpha')"), ["o'brien"]);
    assert.deepEqual(names("name IN ('beta','alpha')"), ['alpha', 'beta']);
    assert.deepEqual(names("attributes.name LIKE '%a'"), ['alpha', 'beta']);
    assert.deepEqual(names("tags.`mlflow.prompt.is_prompt` != 'true'"), ['alpha', 'beta', "o'brien"], 'nothing here is a prompt');
    assert.deepEqual(names("tags.`mlflow.prompt.is_prompt` = 'true'"), []);
    assert.deepEqual(names('', ['metrics.loss ASC']), ["o'brien", 'alpha', 'beta'], 'absent values sort last');
    assert.deepEqual(names('', ['metrics.loss DESC']), ['alpha', "o'brien", 'beta'], 'absent values sort last descending too');
    assert.deepEqual(names('', ['n DESC']), ["o'brien", 'beta', 'alpha']);
  });

  it('refuses what it cannot evaluate, naming the place', () => {
    const cases: [string, RegExp][] = [
      ["name = 'a' OR n = 1", /OR is not part of MLflow's search grammar .* character 12/],
      ["params.lr = '1'", /params cannot be searched here/],
      ["datasets.name = 'x'", /"datasets" is not an entity/],
      ["owner = 'me'", /attribute "owner" cannot be searched here; valid attributes are name, n/],
      ["name > 'a'", /comparator > is not supported for name/],
      ["metrics.loss = 'a'", /metrics\.loss compares with a number/],
      ['name = alpha', /name compares with a quoted string/],
      ["metrics.loss IN ('1')", /IN is not supported for metrics\.loss/],
      ["name IN ('a', 1)", /holds quoted strings only/],
      ["name = 'a' n = 1", /expected AND at character 12/],
      ["name = 'open", /unexpected "'open" at character 8/],
      ['name =', /ends where a value was expected/],
      ["name IS 'x'", /IS must be followed by NULL/],
      ["name IS NULL", /IS NULL applies to params and tags only/],
    ];
    for (const [filter, message] of cases) assert.throws(() => parseFilter(filter, FIELDS, 'test'), (err: Error) => message.test(err.message) && err.message.startsWith('test: filter'), filter);
    assert.throws(() => parseFilter('x'.repeat(5000), FIELDS, 'test'), /5000 characters/);
    assert.throws(() => parseOrderBy(['owner DESC'], FIELDS, 'test'), /test: order_by: attribute "owner"/);
    assert.throws(() => parseOrderBy([' '], FIELDS, 'test'), /order_by entry " " is empty/);
  });
});
