// The door's hand-written checks of a training run's event data answer only where the zod schema
// accepts, with the schema's output, and answer for the data a worker records (so the door stays on them).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TRAINING_DATA_CHECKS } from '../../events/training-check.js';
import { registry } from '../../events/index.js';
import { InputError } from '../../src/errors.js';

const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
const b64 = (n: number) => fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'), minLength: n, maxLength: n });
const publicKey = b64(43).map((s) => `${s}=`);
const signature = b64(86).map((s) => `${s}==`);
const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,20}$/);
const word = fc.string({ minLength: 1, maxLength: 12 });
const count = fc.integer({ min: 0, max: 1_000_000 });
const fraction = fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0, 1, -0));
const loss = fc.double({ noNaN: true, noDefaultInfinity: true });
const metrics = fc.record({ trainLoss: loss, trainAccuracy: fraction, testLoss: loss, testAccuracy: fraction });
const backend = fc.record({
  name: fc.constantFrom('cpu', 'wasm', 'tensorflow', 'tensorflow-gpu'),
  tfjsVersion: word,
  threads: fc.option(fc.integer({ min: 1, max: 64 }), { nil: null }),
  simd: fc.option(fc.boolean(), { nil: null }),
});
const signed = { publicKey, signature };

/** Data as a worker records it, every field valid, per `type@schemaVersion`. */
const GENUINE: Record<string, fc.Arbitrary<Record<string, unknown>>> = {
  'TrainingStarted@2': fc.record({
    runId: name,
    stageId: name,
    worker: word,
    backend,
    configDigest: hex(64),
    dataset: fc.record({ package: fc.string({ maxLength: 12 }), version: fc.string({ maxLength: 8 }), digest: hex(64), trainSize: count, testSize: count }),
    seed: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
    totalSteps: count,
    resumedFrom: fc.option(fc.record({ digest: hex(64), epoch: count, step: count }), { nil: null }),
    ...signed,
  }),
  'TelemetrySample@3': fc.record({
    tags: fc.record({ run: name, stage: name, worker: word, backend: word, host: word }),
    step: count,
    epoch: count,
    examplesPerSec: fc.option(fc.double({ min: 0, max: 1e9, noNaN: true }), { nil: null }),
    stepWallMs: fc.double({ min: 0, max: 1e6, noNaN: true }),
    memoryDeltaBytes: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
    ...signed,
  }),
  'MetricsLogged@1': fc.record({
    runId: name,
    stageId: name,
    metrics: fc.array(
      fc.record({ key: fc.constantFrom('loss', 'accuracy', 'trainLoss', 'test/acc-1.x'), value: loss, step: count, timestamp: fc.integer({ min: 0, max: 8.64e15 }) }),
      { minLength: 1, maxLength: 12 },
    ),
    ...signed,
  }),
  'CheckpointWritten@2': fc.record({ runId: name, stageId: name, epoch: fc.integer({ min: 1, max: 1000 }), step: count, digest: hex(64), bytes: fc.integer({ min: 1, max: 2 ** 40 }), signature, publicKey, metrics }),
  'TrainingCompleted@2': fc.record({
    runId: name,
    stageId: name,
    epochs: fc.integer({ min: 1, max: 1000 }),
    steps: count,
    finalCheckpoint: hex(64),
    metrics,
    wallMs: fc.double({ min: 0, max: 1e9, noNaN: true }),
    ...signed,
  }),
};

class Custom {
  a = 1;
}
/** Values at and across the schemas' edges. */
const edge = fc.oneof(
  fc.constantFrom<unknown>(
    null, undefined, -0, 0, 1, -1, 0.5, 1.0000001, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, 2 ** 53, 8.64e15, 8.64e15 + 2,
    '', 'x', 'a'.repeat(128), 'a'.repeat(129), '-x', '.x', '__proto__', 'cpu', 'gpu', 'a b', '0'.repeat(64), 'A'.repeat(64), '0'.repeat(63), 'A'.repeat(43) + '=', 'A'.repeat(44), '====', 'a=b',
    true, false, [], {}, [1], new Custom(), new Date(0), Object.create(null),
  ),
  fc.string({ maxLength: 6 }),
  fc.double(),
  fc.integer(),
  fc.jsonValue({ maxDepth: 1 }),
);

type Path = (string | number)[];
function paths(value: unknown, at: Path = []): Path[] {
  if (value === null || typeof value !== 'object') return [at];
  const inner = Object.entries(value).flatMap(([k, v]) => paths(v, [...at, Array.isArray(value) ? Number(k) : k]));
  return [at, ...inner];
}
/** A deep copy of `value` with the member at `path` changed by `how`. */
function mutate(value: unknown, path: Path, how: string, replacement: unknown): unknown {
  if (path.length === 0) {
    if (how === 'replace') return replacement;
    if (value === null || typeof value !== 'object') return replacement;
    if (how === 'null-prototype') return Object.assign(Object.create(null) as object, value);
    if (how === 'class') return Object.assign(new Custom(), value);
    if (how === 'extra') return Array.isArray(value) ? [...value, replacement] : { ...value, extra: replacement };
    if (how === 'symbol') return Object.assign(Array.isArray(value) ? [...value] : { ...value }, { [Symbol('s')]: 1 });
    if (how === 'inherited') return Object.assign(Object.create({ inherited: 1 }) as object, value);
    return replacement;
  }
  const [head, ...rest] = path;
  if (Array.isArray(value)) {
    const copy = [...value];
    if (rest.length === 0 && how === 'delete') copy.splice(head as number, 1);
    else copy[head as number] = mutate(copy[head as number], rest, how, replacement);
    return copy;
  }
  const copy = { ...(value as Record<string, unknown>) };
  if (rest.length === 0 && how === 'delete') delete copy[head as string];
  else copy[head as string] = mutate(copy[head as string], rest, how, replacement);
  return copy;
}
const HOW = ['replace', 'replace', 'replace', 'delete', 'extra', 'null-prototype', 'class', 'symbol', 'inherited'];

describe('training data checks (the door\'s hand-written schemas of a run\'s events)', () => {
  for (const [key, genuine] of Object.entries(GENUINE)) {
    const check = TRAINING_DATA_CHECKS[key]!;
    const [type, version] = key.split('@') as [string, string];
    const schema = registry.definitions().find((d) => d.type === type && d.schemaVersion === Number(version))!.schema;
    const changed = fc
      .tuple(genuine, fc.nat(), fc.constantFrom(...HOW), edge)
      .map(([data, n, how, replacement]) => {
        const all = paths(data);
        return mutate(data, all[n % all.length]!, how, replacement);
      });

    it(`${key}: answers only where the schema accepts, with the schema's output`, () => {
      let answered = 0;
      let refused = 0;
      fc.assert(
        fc.property(fc.oneof(changed, changed, genuine, fc.anything()), (data) => {
          const parsed = schema.safeParse(data);
          if (!parsed.success) refused++;
          const fast = check(data);
          if (fast === undefined) return;
          answered++;
          assert.ok(parsed.success, `the check accepted what the schema refuses: ${String(JSON.stringify(data))}`);
          assert.deepStrictEqual(fast, parsed.data);
        }),
        { numRuns: 8000 },
      );
      // The generators reach both sides.
      assert.ok(answered > 1000 && refused > 1000, `answered ${answered}, refused ${refused}`);
    });

    it(`${key}: answers for the data a worker records, with a copy`, () => {
      fc.assert(
        fc.property(genuine, (data) => {
          assert.equal(schema.safeParse(data).success, true, JSON.stringify(data));
          const fast = check(data);
          assert.ok(fast !== undefined, JSON.stringify(data));
          assert.notEqual(fast, data);
        }),
        { numRuns: 1000 },
      );
    });
  }

  it('leaves refusals to zod: the registry words them as before', () => {
    const data = { tags: { run: 'r', stage: 's', worker: 'w', backend: 'cpu', host: 'h' }, step: 1, epoch: 1, examplesPerSec: -1, stepWallMs: 1, memoryDeltaBytes: 0, publicKey: `${'A'.repeat(43)}=`, signature: 'AA==' };
    assert.equal(TRAINING_DATA_CHECKS['TelemetrySample@3']!(data), undefined);
    assert.throws(() => registry.validate('TelemetrySample', data, 3, 'line 1'), (err: unknown) => err instanceof InputError && err.message === 'line 1: TelemetrySample field data.examplesPerSec: Too small: expected number to be >=0');
  });
});
