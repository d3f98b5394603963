import assert from 'node:assert/strict';
import { join } from 'node:path';
import { InputError } from '../../src/errors.js';
import { loadPolicy, parsePolicy, policyHash, withCandidatesSettings } from '../../src/gates/policy.js';
import { repoRoot } from '../support/cli.js';

function parseError(text: string): InputError {
  try {
    parsePolicy(text, 'policy.yaml');
  } catch (err) {
    assert.ok(err instanceof InputError, String(err));
    return err;
  }
  assert.fail('policy was accepted');
}

describe('gates/policy', () => {
  it('loads the documented example with defaults applied', () => {
    const policy = loadPolicy(join(repoRoot, 'docs/examples/policy.yaml'));
    assert.equal(policy.rules.length, 2);
    assert.equal(policy.rules[0]!.relative, 0.03);
    assert.equal(policy.rules[1]!.relative, 0.1);
    assert.equal(policy.rules[1]!.severity, 'soft');
    assert.equal(policy.budgets.severity, 'hard');
  });

  it('names the field and line of an invalid enum value', () => {
    const err = parseError('version: 1\nrules:\n  - metric: accuracy\n    direction: sideways\n');
    assert.equal(err.location.field, 'rules[0].direction');
    assert.equal(err.location.line, 4);
    assert.match(err.message, /policy\.yaml line 4: field rules\[0\]\.direction must be one of/);
  });

  it('names a missing required field and the line of the rule that lacks it', () => {
    const err = parseError('version: 1\nrules:\n  - metric: accuracy\n    relative: 5%\n');
    assert.equal(err.location.field, 'rules[0].direction');
    assert.equal(err.location.line, 3);
    assert.match(err.message, /is required/);
  });

  it('names an unknown field at its own line', () => {
    const err = parseError('version: 1\nrules:\n  - metric: a\n    direction: lower-is-better\n    treshold: 3\n');
    assert.equal(err.location.field, 'rules[0].treshold');
    assert.equal(err.location.line, 5);
  });

  it('rejects a malformed percentage, a duplicate metric and YAML syntax errors with line numbers', () => {
    assert.equal(parseError('version: 1\nrules:\n  - metric: a\n    direction: lower-is-better\n    relative: ten\n').location.line, 5);
    const dup = parseError('version: 1\nrules:\n  - metric: a\n    direction: lower-is-better\n  - metric: a\n    direction: lower-is-better\n');
    assert.equal(dup.location.field, 'rules[1].metric');
    assert.equal(dup.location.line, 5);
    assert.equal(parseError('version: 1\nrules: [\n').location.line !== undefined, true);
    assert.equal(parseError('version: 2\nrules: []\n').location.field, 'version');
  });

  it('hashes the policy after defaults, so equivalent spellings hash alike and a change does not', () => {
    const a = parsePolicy('version: 1\nrules:\n  - {metric: a, direction: lower-is-better, relative: 5%}\n');
    const b = parsePolicy('{"version":1,"seed":1,"rules":[{"metric":"a","direction":"lower-is-better","relative":0.05}]}');
    const c = parsePolicy('version: 1\nrules:\n  - {metric: a, direction: lower-is-better, relative: 6%}\n');
    assert.equal(policyHash(a), policyHash(b));
    assert.notEqual(policyHash(a), policyHash(c));
  });

  describe('candidates (two or more)', () => {
    it('loads docs/examples/policy-multi.yaml with its candidates settings', () => {
      const policy = loadPolicy(join(repoRoot, 'docs/examples/policy-multi.yaml'));
      assert.deepEqual(policy.candidates, { compare: 'baseline', omnibus: 'kruskal-wallis', alpha: 0.05, power: 0.8 });
      assert.deepEqual(policy.rules.map((r) => r.metric), ['testAccuracy', 'testLoss']);
    });

    it('fills the defaults in for a multi-candidate comparison and leaves a two-sample policy (and its hash) as it was', () => {
      const text = 'version: 1\nrules:\n  - {metric: a, direction: lower-is-better}\n';
      const plain = parsePolicy(text);
      assert.equal(plain.candidates, undefined);
      assert.equal(policyHash(plain), policyHash(parsePolicy(text)));
      assert.deepEqual(withCandidatesSettings(plain).candidates, { compare: 'baseline', omnibus: 'kruskal-wallis', alpha: 0.05, power: 0.8 });
      assert.notEqual(policyHash(withCandidatesSettings(plain)), policyHash(plain), 'the settings used are part of the hash');
      assert.equal(policyHash(withCandidatesSettings(plain)), policyHash(parsePolicy(`${text}candidates: {}\n`)));
    });

    it('names the line and field of a bad candidates setting', () => {
      const base = 'version: 1\nrules:\n  - {metric: a, direction: lower-is-better}\ncandidates:\n';
      const omnibus = parseError(`${base}  omnibus: friedman\n`);
      assert.equal(omnibus.location.field, 'candidates.omnibus');
      assert.equal(omnibus.location.line, 5);
      assert.match(omnibus.message, /field candidates\.omnibus must be one of "kruskal-wallis", "anova"/);
      assert.match(parseError(`${base}  compare: each-other\n`).message, /line 5: field candidates\.compare must be one of "baseline", "all-pairs"/);
      assert.match(parseError(`${base}  alpha: 1.5\n`).message, /line 5: field candidates\.alpha must be between 0 and 1/);
      const unknown = parseError(`${base}  correction: bonferroni\n`);
      assert.equal(unknown.location.field, 'candidates.correction');
      assert.equal(unknown.location.line, 5);
    });
  });
});
