// Entry point of a fresh worker process for `runledger retrain`: reads { config, backend, simd,
// stopAfterEpoch, home?, perturb? } as JSON on stdin, trains with a throwaway key, records nothing,
// reports progress as "progress <done> <total>" lines on stderr and the result as one JSON line on
// stdout. Checkpoints go to `home` when given (the caller keeps them to compare tensors), else to a
// temporary home removed at exit. A separate process shares no TensorFlow.js state with the one
// that trained, nor with another repetition.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backend, TrainingConfig } from '../events/training-config.js';
import { asSigner } from './checkpoint.js';
import type { Perturbation } from './model.js';
import { train } from './trainer.js';

interface Request {
  config: unknown;
  backend: unknown;
  stopAfterEpoch: number;
  simd?: boolean | null;
  home?: string;
  perturb?: Perturbation;
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Request;
  const home = request.home ?? mkdtempSync(join(tmpdir(), 'runledger-retrain-'));
  const signer = asSigner(generateKeyPairSync('ed25519').privateKey);
  try {
    const result = await train({
      run: 'retrain',
      stage: 'retrain',
      config: TrainingConfig.parse(request.config),
      backend: Backend.parse(request.backend),
      ...(typeof request.simd === 'boolean' ? { simd: request.simd } : {}),
      ...(request.perturb ? { perturb: request.perturb } : {}),
      home,
      signingKey: signer,
      stopAfterEpoch: request.stopAfterEpoch,
      onProgress: (done, total) => process.stderr.write(`progress ${done} ${total}\n`),
    });
    const checkpoints = result.checkpoints.map((c) => ({ epoch: c.epoch, step: c.step, digest: c.digest }));
    const publicKey = signer.publicKey.toString('base64');
    process.stdout.write(`${JSON.stringify({ checkpoints, backend: result.backend, wallMs: result.wallMs, publicKey })}\n`);
  } finally {
    if (request.home === undefined) rmSync(home, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`error ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
