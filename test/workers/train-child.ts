// Child process for the cross-process determinism test: trains the config given as JSON in argv[2]
// in a fresh home and prints the checkpoint digests as one JSON line.
import { train } from '../../workers/trainer.js';
import { TrainingConfig } from '../../workers/config.js';
import { signingKey, tempHome } from './fixture.js';

const config = TrainingConfig.parse(JSON.parse(process.argv[2] ?? '{}'));
const result = await train({ run: 'child', stage: 'train', config, home: tempHome(), signingKey: signingKey() });
process.stdout.write(`${JSON.stringify({ digests: result.checkpoints.map((c) => c.digest), backend: result.backend })}\n`);
