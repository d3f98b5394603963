// The event catalog page is generated from the registry; this keeps docs/events.md in step.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { registry } from '../../events/index.js';
import { repoRoot, runCli } from '../support/cli.js';

describe('runledger catalog', function () {
  this.timeout(60_000);

  it('lists every registered event type with a JSON Schema of its data', async () => {
    const res = await runCli(['catalog', '--json']);
    assert.equal(res.code, 0, res.stderr);
    const doc = JSON.parse(res.stdout) as { events: { type: string; schemaVersion: number; jsonSchema: { type?: string } }[] };
    const listed = doc.events.map((e) => `${e.type}@${e.schemaVersion}`).sort();
    const registered = registry.definitions().map((d) => `${d.type}@${d.schemaVersion}`).sort();
    assert.deepEqual(listed, registered);
    assert.ok(listed.length > 0);
    for (const e of doc.events) assert.equal(e.jsonSchema.type, 'object', `${e.type} data is an object`);
  });

  it('docs/events.md is exactly what `runledger catalog --markdown` prints (regenerate it if this fails)', async () => {
    const res = await runCli(['catalog', '--markdown']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(readFileSync(join(repoRoot, 'docs', 'events.md'), 'utf8'), res.stdout);
  });
});
