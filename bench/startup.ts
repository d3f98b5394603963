// CLI start-up (issue 16 item 2): `runledger --version` and `runledger events --limit 1` against
// `node -e 0`, each a fresh process, run in turn (node, --version, events, node, …) so machine load
// hits all three alike. Goals: --version within 150 ms and events within 300 ms of `node -e 0`,
// expressed as the same-run wall-time ratio (runledger ÷ node) against the goal
// (node + budget) ÷ node of the same run.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchEnvironment, summarizeRuns, type BenchOptions, type BenchResult } from './result.js';

const BIN = fileURLToPath(new URL('../../bin/runledger.js', import.meta.url));

function wallMs(args: readonly string[], env: NodeJS.ProcessEnv): number {
  const start = performance.now();
  const child = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - start;
  if (child.status !== 0) throw new Error(`bench startup: node ${args.join(' ')} exited ${child.status}: ${child.stderr.toString()}`);
  return ms;
}

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const runs = options.runs ?? 15;
  const home = mkdtempSync(join(tmpdir(), 'runledger-bench-startup-'));
  const env: NodeJS.ProcessEnv = { ...process.env, RUNLEDGER_HOME: home, NO_COLOR: '1' };
  delete env.RUNLEDGER_STORE;
  try {
    wallMs([BIN, 'init'], env);
    const append = spawnSync(process.execPath, [BIN, 'append', '-'], { env, input: '{"stream":"lab-startup","type":"custom.sample","data":{"i":1}}\n' });
    if (append.status !== 0) throw new Error(`bench startup: append failed: ${append.stderr.toString()}`);
    const commands = {
      node: ['-e', '0'],
      version: [BIN, '--version'],
      events: [BIN, 'events', '--limit', '1'],
    } as const;
    const samples: Record<keyof typeof commands, number[]> = { node: [], version: [], events: [] };
    for (const name of Object.keys(commands) as (keyof typeof commands)[]) wallMs(commands[name], env); // warm the file cache
    for (let r = 0; r < runs; r++) {
      for (const name of Object.keys(commands) as (keyof typeof commands)[]) samples[name].push(wallMs(commands[name], env));
    }
    const node = summarizeRuns(samples.node);
    const result = (name: string, what: keyof typeof commands, budgetMs: number): BenchResult => {
      const wall = summarizeRuns(samples[what]);
      // Pair by pair, so a burst of load during one round does not move the figure.
      const overhead = summarizeRuns(samples[what].map((ms, i) => ms - samples.node[i]!));
      return {
        name,
        unit: 'starts',
        runs,
        wallMs: wall,
        throughputPerSec: 1000 / wall.p50,
        memoryDeltaBytes: 0,
        reference: { name: '`node -e 0`, same rounds', wallMs: node, throughputPerSec: 1000 / node.p50 },
        // Wall time ratio (runledger ÷ node): lower is better; the goal is the budget over node's own start.
        ratio: wall.p50 / node.p50,
        goal: (node.p50 + budgetMs) / node.p50,
        goalIs: 'max',
        environment: { ...benchEnvironment(), command: `runledger ${commands[what].slice(1).join(' ')}`, budgetMs, overheadMsP50: overhead.p50, interleaved: 'node, --version, events per round' },
      };
    };
    return [result('startup.version', 'version', 150), result('startup.events', 'events', 300)];
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
