import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { readFileSync, writeFileSync } from 'node:fs';
import { registry } from '../../events/index.js';
import { IntegrityError } from '../../src/errors.js';
import { checkpointPaths } from '../../workers/checkpoint.js';
import type { TrainingConfig } from '../../events/training-config.js';
import { reexecute } from '../../workers/retrain.js';
import { train, type TrainingEvent } from '../../workers/trainer.js';
import { signingKey, smallConfig, tempHome } from './fixture.js';

/** Trains in a separate worker process (the one `runledger retrain` uses). */
async function digestsInChild(config: TrainingConfig): Promise<{ digests: string[]; backend: { name: string } }> {
  const result = await reexecute({ config, backend: config.backend, stopAfterEpoch: config.epochs });
  return { digests: result.checkpoints.map((c) => c.digest), backend: result.backend };
}

async function digests(config: TrainingConfig): Promise<string[]> {
  const result = await train({ run: 'r', stage: 'train', config, home: tempHome(), signingKey: signingKey() });
  return result.checkpoints.map((c) => c.digest);
}

describe('workers/trainer', function () {
  this.timeout(120_000);

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`gives identical checkpoint digests at every epoch in two separate processes (${backend})`, async () => {
      const config = smallConfig({ backend });
      const [a, b] = await Promise.all([digestsInChild(config), digestsInChild(config)]);
      assert.equal(a.backend.name, backend);
      assert.equal(a.digests.length, config.epochs);
      assert.deepEqual(a.digests, b.digests);
      assert.deepEqual(await digests(config), a.digests, 'this process agrees with both children');
    });
  }

  it('gives different digests when the seed changes', async () => {
    const base = await digests(smallConfig());
    const other = await digests(smallConfig({ seed: 8 }));
    base.forEach((d, i) => assert.notEqual(other[i], d, `epoch ${i + 1}`));
  });

  it('gives different digests when the learning rate changes', async () => {
    const base = await digests(smallConfig());
    const other = await digests(smallConfig({ learningRate: 0.021 }));
    base.forEach((d, i) => assert.notEqual(other[i], d, `epoch ${i + 1}`));
  });

  it('gives different digests on cpu and wasm (backends reproduce themselves, not each other)', async () => {
    const cpu = await digests(smallConfig({ backend: 'cpu' }));
    const wasm = await digests(smallConfig({ backend: 'wasm' }));
    assert.notEqual(cpu.at(-1), wasm.at(-1));
  });

  for (const optimizer of ['adam', 'sgd'] as const) {
    it(`ends a run interrupted after epoch 2 and resumed with the same weights as an uninterrupted run (${optimizer})`, async () => {
      const config = smallConfig({ optimizer, learningRate: optimizer === 'sgd' ? 0.1 : 0.02 });
      const key = signingKey();
      const whole = await train({ run: 'w', stage: 'train', config, home: tempHome(), signingKey: key });
      const home = tempHome();
      const first = await train({ run: 'p', stage: 'train', config, home, signingKey: key, stopAfterEpoch: 2 });
      assert.equal(first.completed, null);
      assert.equal(first.checkpoints.length, 2);
      const rest = await train({ run: 'p', stage: 'train', config, home, signingKey: key, resumeFrom: first.checkpoints[1]!.digest });
      assert.deepEqual(
        [...first.checkpoints, ...rest.checkpoints].map((c) => c.digest),
        whole.checkpoints.map((c) => c.digest),
      );
      assert.equal(rest.completed?.finalCheckpoint, whole.completed?.finalCheckpoint);
    });
  }

  it('refuses to resume from a tampered checkpoint', async () => {
    const config = smallConfig();
    const key = signingKey();
    const home = tempHome();
    const first = await train({ run: 'p', stage: 'train', config, home, signingKey: key, stopAfterEpoch: 1 });
    const digest = first.checkpoints[0]!.digest;
    const { ckpt } = checkpointPaths(home, digest);
    const bytes = readFileSync(ckpt);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x04;
    writeFileSync(ckpt, bytes);
    await assert.rejects(
      train({ run: 'p', stage: 'train', config, home, signingKey: key, resumeFrom: digest }),
      (err: unknown) => err instanceof IntegrityError && err.message.includes(ckpt),
    );
  });

  it('group-commits: within the interval a run makes one durable commit of every event, with interval 0 one per sampled step and checkpoint, the same events in the same order', async () => {
    const config = smallConfig({ telemetryEvery: 3 });
    const recordWith = async (commitIntervalMs: number): Promise<{ batches: string[][] }> => {
      const batches: string[][] = [];
      await train({
        run: 'g',
        stage: 'train',
        config,
        home: tempHome(),
        signingKey: signingKey(),
        commitIntervalMs,
        sink: {
          // MetricsLogged gathers the points of one commit (it sits at a commit's end), so its points are compared on their own.
          append: (batch) =>
            Promise.resolve(
              void batches.push(
                batch.flatMap((e) => (e.type === 'MetricsLogged' ? e.data.metrics.map((p) => `metric ${p.key}:${p.step}`) : [`${e.type}:${'step' in e.data ? e.data.step : ''}`])),
              ),
            ),
        },
      });
      return { batches };
    };
    const grouped = await recordWith(60_000);
    const each = await recordWith(0);
    assert.equal(grouped.batches.length, 1, 'one commit for a run shorter than the interval');
    assert.ok(each.batches.length > config.epochs, `${each.batches.length} commits`);
    const events = (b: string[][]): string[] => b.flat().filter((e) => !e.startsWith('metric '));
    const points = (b: string[][]): string[] => b.flat().filter((e) => e.startsWith('metric '));
    assert.deepEqual(events(each.batches), events(grouped.batches), 'batching changes when events are committed, never which or in what order');
    assert.deepEqual(points(each.batches), points(grouped.batches), 'the same metric points in the same order (gathered into fewer MetricsLogged events)');
  });

  it('does not return when the sink fails to make a batch durable: the error propagates', async () => {
    await assert.rejects(
      train({ run: 'f', stage: 'train', config: smallConfig(), home: tempHome(), signingKey: signingKey(), sink: { append: () => Promise.reject(new Error('disk full')) } }),
      /disk full/,
    );
  });

  it('with an overlapped sink keeps training while a batch commits, holds at most one unacknowledged until the end, and returns only once every batch is durable', async () => {
    const config = smallConfig({ telemetryEvery: 2, epochs: 6 });
    const inline: string[] = [];
    await train({ run: 'o', stage: 'train', config, home: tempHome(), signingKey: signingKey(), commitIntervalMs: 0, sink: { append: (b) => Promise.resolve(void inline.push(...b.map((e) => e.type))) } });
    const handed: string[] = [];
    const durable: string[] = [];
    let unacknowledged = 0;
    let most = 0;
    const result = await train({
      run: 'o',
      stage: 'train',
      config,
      home: tempHome(),
      signingKey: signingKey(),
      commitIntervalMs: 0,
      sink: {
        overlapped: true,
        append: (batch) => {
          handed.push(...batch.map((e) => e.type));
          most = Math.max(most, ++unacknowledged);
          // Durable a little later, as the writer thread's commit is.
          return new Promise((resolve) => setTimeout(() => (durable.push(...batch.map((e) => e.type)), unacknowledged--, resolve()), 5));
        },
      },
    });
    assert.equal(unacknowledged, 0, 'train returned before every batch it handed over was durable');
    assert.deepEqual(durable, handed);
    assert.ok(result.completed);
    assert.equal(durable.at(-1), 'TrainingCompleted');
    assert.ok(most <= 2, `${most} batches unacknowledged at once (one in flight, plus the last at the end)`);
    const events = (types: string[]): string[] => types.filter((t) => t !== 'MetricsLogged');
    assert.deepEqual(events(durable), events(inline), 'overlapping changes when events are committed, never which or in what order');
  });

  it('stops a run whose overlapped sink refused a batch, with the sink\'s error, and never settles while a batch is in flight', async () => {
    let calls = 0;
    let open = 0;
    await assert.rejects(
      train({
        run: 'x',
        stage: 'train',
        config: smallConfig({ epochs: 20, telemetryEvery: 1 }),
        home: tempHome(),
        signingKey: signingKey(),
        commitIntervalMs: 0,
        sink: {
          overlapped: true,
          append: () => {
            calls++;
            open++;
            return new Promise((_, reject) => setTimeout(() => (open--, reject(new Error('rule refused'))), 5));
          },
        },
      }),
      /rule refused/,
    );
    assert.equal(open, 0, 'train settled while a batch was still being committed');
    assert.ok(calls < 10, `training went on after the refusal (${calls} batches handed over)`);
  });

  it('does not settle while an overlapped batch is being committed when training itself fails', async () => {
    let open = 0;
    await assert.rejects(
      train({
        run: 'y',
        stage: 'train',
        config: smallConfig({ epochs: 3, telemetryEvery: 1 }),
        home: tempHome(),
        signingKey: signingKey(),
        commitIntervalMs: 0,
        sink: { overlapped: true, append: () => (open++, new Promise((resolve) => setTimeout(() => (open--, resolve()), 20))) },
        onProgress: (done) => {
          if (done === 3) throw new Error('progress display failed');
        },
      }),
      /progress display failed/,
    );
    assert.equal(open, 0, 'train settled while a batch was still being committed');
  });

  it('emits events that validate against the catalog, with telemetry at the plan interval', async () => {
    const config = smallConfig({ telemetryEvery: 3 });
    const events: TrainingEvent[] = [];
    const batches: number[] = [];
    const result = await train({
      run: 'r1',
      stage: 'train',
      config,
      home: tempHome(),
      signingKey: signingKey(),
      sink: {
        append(batch) {
          batches.push(batch.length);
          events.push(...batch);
          return Promise.resolve();
        },
      },
    });
    for (const e of events) registry.validate(e.type, e.data);
    const types = events.map((e) => e.type);
    assert.deepEqual(types.slice(0, 2), ['RunEnvironmentRecorded', 'TrainingStarted']);
    assert.equal(types.at(-1), 'TrainingCompleted');
    assert.equal(types.filter((t) => t === 'CheckpointWritten').length, config.epochs);
    const samples = events.filter((e) => e.type === 'TelemetrySample').map((e) => e.data);
    const steps = samples.map((s) => s.step);
    assert.ok(steps.every((s) => s % 3 === 0 || s === result.steps), `steps ${steps.join(',')}`);
    assert.equal(steps.at(-1), result.steps);
    assert.deepEqual(samples[0]!.tags, { run: 'r1', stage: 'train', worker: samples[0]!.tags.worker, backend: 'cpu', host: samples[0]!.tags.host });
    assert.ok(batches.some((n) => n > 1), 'telemetry is appended in batches');
    // Metrics are MetricsLogged points like every run's: each sampled step's loss and accuracy, each checkpoint's metrics at its step.
    assert.ok(samples.every((s) => !('loss' in s) && !('accuracy' in s)), 'samples are system telemetry only (version 3)');
    const points = events.filter((e) => e.type === 'MetricsLogged').flatMap((e) => (e.data as { metrics: { key: string; value: number; step: number }[] }).metrics);
    assert.deepEqual([...new Set(points.filter((p) => p.key === 'loss').map((p) => p.step))], steps, 'a loss point at every sampled step');
    const checkpoints = events.filter((e) => e.type === 'CheckpointWritten').map((e) => e.data as { step: number; metrics: Record<string, number> });
    for (const c of checkpoints) {
      for (const [key, value] of Object.entries(c.metrics)) assert.ok(points.some((p) => p.key === key && p.step === c.step && p.value === value), `${key} of the checkpoint at step ${c.step}`);
    }
  });

  it('leaves no tensor behind, recorded or not (a long retrain --repeat or worker would otherwise grow)', async () => {
    const config = smallConfig({ telemetryEvery: 2 });
    for (const recorded of [false, true]) {
      const before = tf.memory().numTensors;
      await train({ run: 'm', stage: 'train', config, home: tempHome(), signingKey: signingKey(), ...(recorded ? { sink: { append: () => Promise.resolve() } } : {}) });
      assert.equal(tf.memory().numTensors, before, recorded ? 'recorded run' : 'unrecorded run');
    }
  });

  it('trains a model that beats chance on the held-out split, and a regressed plan trains worse', async () => {
    const good = await train({ run: 'g', stage: 'train', config: smallConfig({ epochs: 8 }), home: tempHome(), signingKey: signingKey() });
    const bad = await train({
      run: 'b',
      stage: 'train',
      config: smallConfig({ epochs: 1, learningRate: 0.0005 }),
      home: tempHome(),
      signingKey: signingKey(),
    });
    assert.ok(good.completed!.metrics.testAccuracy > 0.8, `test accuracy ${good.completed!.metrics.testAccuracy}`);
    assert.ok(bad.completed!.metrics.testAccuracy < good.completed!.metrics.testAccuracy);
  });
});
