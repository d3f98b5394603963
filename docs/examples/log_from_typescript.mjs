// Log a run from your own code (docs/api.md): params, metrics by step, tags, an artifact; then sign a
// checkpoint and verify the run end to end. Imports only the package's public API.
//
//   node docs/examples/log_from_typescript.mjs [home]     (default: a fresh temporary directory)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Buffer } from 'node:buffer';
import { join } from 'node:path';
import { openLedger } from 'runledger';

const home = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'runledger-example-'));
const ledger = await openLedger(`sqlite:${join(home, 'ledger.db')}`, { home, actor: 'alice@example.org', create: true });
try {
  const run = await ledger.startRun({
    external: { name: 'my-training-script' },
    params: { lr: 0.01, optimizer: 'adam', epochs: 3 },
    tags: { team: 'vision' },
    environment: { framework: 'my-own-loop' },
  });
  for (let step = 0; step < 3; step++) {
    await run.logMetrics({ loss: 1 / (step + 1), f1: 0.5 + step / 10 }, { step });
  }
  await run.setTags({ stage: 'candidate' });
  const model = await run.logArtifact({ path: 'model.json', bytes: Buffer.from('{"weights":[1,2,3]}'), mediaType: 'application/json' });
  await run.end();

  await ledger.checkpoint();
  const verified = await ledger.verifyRun(run.runId);
  console.log(JSON.stringify({ runId: run.runId, artifact: model.digest, verified: verified.ok }));
  if (!verified.ok) process.exitCode = 1;
} finally {
  await ledger.close();
}
