// Plans and policies are parsed in a safe, limited YAML mode: each hostile construct is an
// InputError naming the file and line, raised fast and without a stack overflow; plain YAML and
// JSON still parse.
import assert from 'node:assert/strict';
import { InputError } from '../../src/errors.js';
import { parsePolicy } from '../../src/gates/policy.js';
import { parsePlan } from '../../src/governance/plan-file.js';
import { LIMITS } from '../../src/input/limits.js';
import { parseYaml } from '../../src/input/yaml.js';

const parse = (text: string): unknown => parseYaml(text, { file: 'f.yaml', what: 'plan', at: (line) => (line === undefined ? 'f.yaml' : `f.yaml:${line}`) }).value;

function refused(text: string, message: RegExp, line?: number): void {
  const started = Date.now();
  assert.throws(
    () => parse(text),
    (err: unknown) => {
      assert.ok(err instanceof InputError, `not an InputError: ${String(err)}`);
      assert.match(err.message, message);
      assert.doesNotMatch(err.message, /\n/);
      if (line !== undefined) assert.equal(err.location.line, line, err.message);
      assert.equal(err.location.file, 'f.yaml');
      return true;
    },
  );
  assert.ok(Date.now() - started < 2000, `refused in ${Date.now() - started} ms`);
}

const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(',')}]`)].join('\n');

describe('safe YAML (src/input/yaml.ts)', () => {
  it('parses plain YAML and JSON to plain values, core tags allowed', () => {
    assert.deepEqual(parse('a: 1\nb: [x, "y", !!str 3]\nc: {d: null, e: true}\n'), { a: 1, b: ['x', 'y', '3'], c: { d: null, e: true } });
    assert.deepEqual(parse('{"a": [1, 2.5e-7]}'), { a: [1, 2.5e-7] });
    assert.deepEqual(parse('base: &b {x: 1}\ncopy: *b\n'), { base: { x: 1 }, copy: { x: 1 } }, 'a few aliases are fine');
  });

  it('refuses custom and non-core tags, naming the tag and its line', () => {
    refused('a: 1\nb: !custom x\n', /^f\.yaml:2: the YAML tag !custom is refused/, 2);
    refused('b: !!python/object:os.system ls\n', /the YAML tag !!python\/object:os\.system is refused/, 1);
    refused('b: !!binary aGk=\n', /!!binary is refused/);
    refused('b: !!timestamp 2001-01-01\n', /!!timestamp is refused/);
    refused('b: !!set {a, b}\n', /!!set is refused/);
    refused('%TAG !e! tag:evil.example,2026:\n---\nb: !e!x 1\n', /tag:evil\.example,2026:x is refused/);
  });

  it('refuses a billion-laughs document by its alias budget, fast', () => {
    refused(laughs, new RegExp(`expands its YAML aliases beyond the limit of ${LIMITS.yamlAliases} alias expansions`));
  });

  it('refuses nesting beyond the limit before composing (block and flow), and names the field just beyond it', () => {
    const block = (d: number): string => `${Array.from({ length: d }, (_, i) => `${' '.repeat(i)}a:`).join('\n')}\n${' '.repeat(d)}x\n`;
    refused(block(1000), /nests deeper than the limit of 64 levels/);
    refused(`a: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`, /^f\.yaml:1: the plan nests deeper than the limit of 64 levels/, 1);
    refused(block(70), /^f\.yaml:\d+: field a\.a\.a\.a\.a\.a\.a\.a\.a\.a\.a\.a…: nesting deeper than 64 levels/);
    assert.doesNotThrow(() => parse(block(63)));
  });

  it('refuses YAML 1.1, several documents and complex keys', () => {
    refused('%YAML 1.1\n---\na: 1:20\n', /%YAML 1\.1 documents are refused/, 1);
    refused('a: 1\n---\nb: 2\n', /is one YAML document, this text holds 2/, 2);
    refused('? [a, b]\n: 1\n', /a mapping key must be a plain value/, 1);
  });

  it('refuses values JSON cannot carry exactly, naming field and line', () => {
    refused('a: 1\nb: .inf\n', /^f\.yaml:2: field b: non-finite number/, 2);
    refused('b: [1, .nan]\n', /field b\[1\]: non-finite number/);
    refused('s: "x\\ud800"\n', /field s: lone surrogate/);
    refused('a:\n  __proto__: {x: 1}\n', /field a\.__proto__: the member name "__proto__" is refused/, 2);
    refused('a: &r [*r]\n', /field a\[0\]: cycle/);
  });

  it(`refuses a document over ${LIMITS.documentBytes} bytes before parsing it`, () => {
    refused(`a: "${'x'.repeat(LIMITS.documentBytes)}"\n`, /^f\.yaml: the plan is 1,048,5\d\d bytes, over the limit of 1,048,576 bytes/);
  });

  it('keeps syntax errors to one line with their line number', () => {
    refused('a: 1\nb: [1, 2\n', /^f\.yaml:\d+: /);
    refused('a: 1\na: 2\n', /^f\.yaml:2: Map keys must be unique/, 2);
  });

  it('serves plans and policies: a plan with a tag and a policy with too many rules are refused with their lines', () => {
    assert.throws(() => parsePlan('governance:\n  name: x\n  approver: !custom a\nexecution:\n  stages: [{id: a}]\n', 'p.yaml'), /^InputError: p\.yaml:3: the YAML tag !custom is refused/);
    const rules = Array.from({ length: LIMITS.policyRules + 1 }, (_, i) => `  - {metric: m${i}, direction: higher-is-better}`).join('\n');
    assert.throws(() => parsePolicy(`version: 1\nrules:\n${rules}\n`, 'pol.yaml'), (err: unknown) => err instanceof InputError && /^pol\.yaml line 3: field rules is 1,001 rules, over the limit of 1,000 rules/.test(err.message) && err.location.field === 'rules');
    assert.equal(parsePolicy(`version: 1\nrules:\n${rules.split('\n').slice(0, LIMITS.policyRules).join('\n')}\n`, 'pol.yaml').rules.length, LIMITS.policyRules);
  });
});
