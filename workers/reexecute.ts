// Entry point of a fresh worker process for `runledger retrain`: reads { config, backend,
// stopAfterEpoch } as JSON on stdin, trains in a temporary home with a throwaway key, records
// nothing, reports progress as "progress <done> <total>" lines on stderr and the result as one JSON
// line on stdout. A separate process shares no TensorFlow.js state with the one that trained.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backend, TrainingConfig } from '../events/training-config.js';
import { train } from './trainer.js';

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { config: unknown; backend: unknown; stopAfterEpoch: number };
  const home = mkdtempSync(join(tmpdir(), 'runledger-retrain-'));
  try {
    const result = await train({
      run: 'retrain',
      stage: 'retrain',
      config: TrainingConfig.parse(request.config),
      backend: Backend.parse(request.backend),
      home,
      signingKey: generateKeyPairSync('ed25519').privateKey,
      stopAfterEpoch: request.stopAfterEpoch,
      onProgress: (done, total) => process.stderr.write(`progress ${done} ${total}\n`),
    });
    const checkpoints = result.checkpoints.map((c) => ({ epoch: c.epoch, step: c.step, digest: c.digest }));
    process.stdout.write(`${JSON.stringify({ checkpoints, backend: result.backend, wallMs: result.wallMs })}\n`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`error ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
