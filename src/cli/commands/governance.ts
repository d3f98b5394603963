// Governance commands: plan validate|approve, stage start|complete|fail, replay, export, verify-bundle.
// Thin: the work is done by src/governance (plans, recording), src/replay and src/bundle.
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { sha256Hex } from '../../integrity/hasher.js';
import { readPlanFile } from '../../governance/plan-file.js';
import { approvePlan, failRun, recordStage, type StageAction, type StageDetails } from '../../governance/recorder.js';
import { hasSigningKey, loadVerifierKey } from '../../ledger/keys.js';
import { manifestBytes } from '../../replay/manifest.js';
import { replayRun } from '../../replay/replay.js';
import type { RunDivergence } from '../../replay/verify-run.js';
import { verifyBundle, writeBundle } from '../../bundle/bundle.js';
import { fileSource } from '../../bundle/format.js';
import { witnessPolicy } from '../../witness/policy.js';
import { ExitCode, withJson, type CliContext } from '../context.js';
import { openOutput } from '../output-path.js';
import { withBoundedFile } from '../../input/decode.js';
import { LIMITS } from '../../input/limits.js';
import { count } from '../style.js';
import { parseWorkerKeys } from '../worker-keys.js';

interface JsonFlag {
  json?: boolean;
}

interface StageFlags extends JsonFlag {
  inputs?: string[];
  outputs?: string[];
  wallMs?: number;
  memoryDelta?: number;
  throughput?: number;
  reason?: string;
}

export function registerGovernanceCommands(program: Command, ctx: CliContext): void {
  const plan = program.command('plan').description('governed plans: validate a plan file, approve it for a run');
  withJson(plan.command('validate'))
    .description('check a plan file (YAML or JSON); errors name the line and field; prints both plan hashes')
    .argument('<file>', 'plan file')
    .action((file: string, opts: JsonFlag) => {
      const parsed = readPlanFile(file);
      const report = {
        file,
        valid: true,
        name: parsed.governance.name,
        governancePlanHash: parsed.governancePlanHash,
        executionPlanHash: parsed.executionPlanHash,
        stages: parsed.execution.stages.map((s) => s.id),
      };
      ctx.print(opts.json ?? false, report, () =>
        [
          `${file}: valid plan "${report.name}"`,
          `governance plan ${report.governancePlanHash}`,
          `execution plan  ${report.executionPlanHash}`,
          `stages: ${report.stages.join(' → ')}`,
        ].join('\n'),
      );
    });
  withJson(plan.command('approve'))
    .description('record the approved governance plan and its execution plan as the first events of a run')
    .argument('<file>', 'plan file')
    .requiredOption('--run <run>', 'run id (the run stream is run-<id>)')
    .option('--approver <name>', 'who approves (must be the plan\'s approver; default: the plan\'s approver)')
    .option('--worker-key <key...>', 'worker keys trusted to sign the run\'s training events ("runledger keys show --worker"; text or a file); default: none')
    .action(async (file: string, opts: JsonFlag & { run: string; approver?: string; workerKey?: string[] }) => {
      const parsed = readPlanFile(file);
      const workerKeys = parseWorkerKeys(opts.workerKey ?? []);
      const store = await ctx.store();
      const result = await approvePlan(store, parsed, opts.run, { actor: ctx.actor(), workerKeys, ...(opts.approver ? { approver: opts.approver } : {}) });
      ctx.print(opts.json ?? false, { ...result, stages: parsed.execution.stages.map((s) => s.id) }, () =>
        [
          `${result.recorded ? 'Approved' : 'Already approved'}: plan "${parsed.governance.name}" for run ${result.runId} by ${result.approver}`,
          `trusted worker keys: ${result.workerKeys.length ? result.workerKeys.join(', ') : 'none (no training event can be recorded)'}`,
          `governance plan ${result.governancePlanHash}`,
          `execution plan  ${result.executionPlanHash}`,
          `stages: ${parsed.execution.stages.map((s) => s.id).join(' → ')}`,
        ].join('\n'),
      );
    });

  const stage = program.command('stage').description('record stage transitions of a governed run (for executors in any language)');
  for (const action of ['start', 'complete', 'fail'] as const) {
    const command = withJson(stage.command(action))
      .description(
        action === 'start'
          ? 'record that a stage started; refused unless its dependencies completed'
          : action === 'complete'
            ? 'record that a running stage completed (the last one also completes the run)'
            : 'record that a running stage failed (the run fails with it)',
      )
      .argument('<run>', 'run id')
      .argument('<stage>', 'stage id from the execution plan');
    if (action === 'start') {
      command.option('--inputs <items...>', 'input digests: NAME=<sha256>, NAME=FILE or FILE');
    } else {
      command
        .option('--outputs <items...>', 'output digests: NAME=<sha256>, NAME=FILE or FILE')
        .option('--wall-ms <ms>', 'wall time of the stage (default: since its start was recorded)', number('--wall-ms', 0))
        .option('--memory-delta <bytes>', 'memory delta of the stage in bytes', integer('--memory-delta'));
      if (action === 'complete') command.option('--throughput <n>', 'items per second', number('--throughput', 0));
      else command.requiredOption('--reason <text>', 'why the stage failed');
    }
    command.action(async (run: string, stageId: string, opts: StageFlags) => {
      const details: StageDetails = { actor: ctx.actor() };
      if (opts.inputs) details.inputs = digests(opts.inputs, '--inputs');
      if (opts.outputs) details.outputs = digests(opts.outputs, '--outputs');
      if (opts.wallMs !== undefined) details.wallMs = opts.wallMs;
      if (opts.memoryDelta !== undefined) details.memoryDeltaBytes = opts.memoryDelta;
      if (opts.throughput !== undefined) details.throughput = opts.throughput;
      if (opts.reason !== undefined) details.reason = opts.reason;
      const store = await ctx.store();
      const result = await recordStage(store, run, stageId, action as StageAction, details);
      ctx.print(opts.json ?? false, result, () => `Recorded ${result.recorded.join(' + ')} for stage ${stageId} of run ${run} (attempt ${result.attempt}); run is ${result.runStatus}`);
    });
  }

  const runCommand = program.command('run').description('governed runs as a whole');
  withJson(runCommand.command('fail'))
    .description('end a run that cannot go on (e.g. its executor crashed) with RunFailed')
    .argument('<run>', 'run id')
    .requiredOption('--reason <text>', 'why the run failed')
    .action(async (run: string, opts: JsonFlag & { reason: string }) => {
      const store = await ctx.store();
      await failRun(store, run, opts.reason, ctx.actor());
      ctx.print(opts.json ?? false, { runId: run, recorded: ['RunFailed'], runStatus: 'failed' }, () => `Recorded RunFailed for run ${run}: ${opts.reason}`);
    });

  withJson(program.command('replay'))
    .description('re-read a run and verify chain, checkpoint inclusion, plan parity, stage order, run summary and every write rule; writes the replay manifest')
    .argument('<run>', 'run id')
    .option('--out <file>', 'write the replay manifest (RFC 8785 JSON) here when the run verifies')
    .option('--key <vkey...>', 'trusted verifier key(s) (default: the home key)')
    .option('--full', 'also verify the whole log (every event and checkpoint) first')
    .action(async (run: string, opts: JsonFlag & { out?: string; key?: string[]; full?: boolean }) => {
      const keys = verifierKeys(ctx, opts.key, false);
      const out = opts.out === undefined ? undefined : openOutput(opts.out, '--out');
      let result;
      try {
        const store = await ctx.store();
        const progress = progressBar(ctx, 'replay', opts.json ?? false);
        try {
          result = await replayRun(store, run, { verifierKeys: keys, fullLog: opts.full ?? false, onProgress: progress.update });
        } finally {
          progress.stop();
        }
        if (result.ok && result.manifest) out?.write(manifestBytes(result.manifest));
      } finally {
        out?.discard();
      }
      const v = result.verification;
      const report = {
        ok: result.ok,
        runId: run,
        events: v?.events ?? 0,
        status: v?.summary.status ?? null,
        plans: v?.governance && v.execution ? { governance: v.governance.planHash, execution: v.execution.planHash } : null,
        checkpoint: result.checkpoint ? { size: result.checkpoint.size, root: result.checkpoint.root.toString('hex') } : null,
        manifest: result.manifest,
        ...(opts.out && result.ok ? { manifestFile: opts.out } : {}),
        ...(result.firstDivergence ? { firstDivergence: result.firstDivergence } : {}),
      };
      ctx.print(opts.json ?? false, report, () =>
        result.ok
          ? [
              `${ctx.style.status('ok', `Run ${run} verified`)}: ${count(report.events, 'event')}, status ${report.status}`,
              `governance plan ${report.plans?.governance}`,
              `execution plan  ${report.plans?.execution}`,
              `checkpoint      size ${report.checkpoint?.size}, root ${report.checkpoint?.root}`,
              `checks: chain, inclusion, plan parity, stage order, run summary, write rules${opts.full ? ', whole log' : ''}`,
              ...(opts.out ? [`manifest written to ${opts.out}`] : []),
            ].join('\n')
          : describeDivergence(ctx.style.status('fail', `Run ${run} failed replay`), result.firstDivergence),
      );
      if (!result.ok) throw new ExitCode(1);
    });

  withJson(program.command('export'))
    .description('write an offline audit bundle of a verified run (events, inclusion proofs, signed checkpoint, plans, manifest)')
    .argument('<run>', 'run id')
    .requiredOption('--out <file>', 'bundle file to write')
    .option('--key <vkey...>', 'trusted verifier key(s) (default: the home key)')
    .action(async (run: string, opts: JsonFlag & { out: string; key?: string[] }) => {
      const keys = verifierKeys(ctx, opts.key, false);
      const out = openOutput(opts.out, '--out');
      let written;
      try {
        const store = await ctx.store();
        const progress = progressBar(ctx, 'export', opts.json ?? false);
        // Streamed to the temporary file in 1 MiB writes, renamed over --out only once the bundle is complete.
        const sink = coalesce((chunk) => out.append(chunk));
        try {
          written = await writeBundle(store, run, keys, sink.write, progress.update);
        } finally {
          progress.stop();
        }
        sink.flush();
        out.commit();
      } finally {
        out.discard();
      }
      const { manifest } = written;
      const report = { runId: run, file: opts.out, bytes: written.bytes, sha256: written.sha256, events: manifest.eventCount, checkpointSize: manifest.checkpoint.size, plans: manifest.plans };
      ctx.print(opts.json ?? false, report, () => `Exported run ${run} (${count(report.events, 'event')}, checkpoint size ${report.checkpointSize}) to ${opts.out}, ${report.bytes} bytes, sha256 ${report.sha256}`);
    });

  withJson(program.command('verify-bundle'))
    .description('verify an audit bundle with no store: signature, inclusion proofs, chain, plan parity, stage order, write rules, manifest')
    .argument('<file>', 'bundle file')
    .option('--key <vkey...>', 'trusted verifier key(s) (default: the home key, if this home has one)')
    .option('--witness-key <vkey...>', 'require the bundle\'s checkpoint to be cosigned by these witnesses (C2SP tlog-cosignature)')
    .option('--witness-threshold <k>', 'with --witness-key: how many must have cosigned (default: all)', (v: string) => {
      if (!/^[1-9]\d{0,3}$/.test(v)) throw new InputError(`--witness-threshold must be an integer from 1 to 9999, got "${v}"`, { field: '--witness-threshold' });
      return Number(v);
    })
    .action((file: string, opts: JsonFlag & { key?: string[]; witnessKey?: string[]; witnessThreshold?: number }) => {
      const keys = verifierKeys(ctx, opts.key, true);
      const witnesses = witnessPolicy(opts.witnessKey, opts.witnessThreshold);
      // At most LIMITS.bundleBytes, checked before reading (docs/limits.md); read in chunks, never held whole.
      let result;
      try {
        result = withBoundedFile(file, LIMITS.bundleBytes, 'bundle', (fd, size) => verifyBundle(fileSource(fd, size), keys, witnesses ? { witnesses } : {}));
      } catch (err) {
        if (err instanceof InputError) throw new InputError(`${file}: ${err.message}`, { ...err.location, file });
        throw err;
      }
      const report = { file, ...result };
      ctx.print(opts.json ?? false, report, () =>
        result.ok
          ? [
              `${ctx.style.status('ok', `Bundle ${file} verified`)}: run ${result.runId}, ${count(result.events, 'event')}, status ${result.status}`,
              `governance plan ${result.plans?.governance}`,
              `execution plan  ${result.plans?.execution}`,
              `checkpoint      ${result.checkpoint?.origin} size ${result.checkpoint?.size}, root ${result.checkpoint?.root}`,
              ...(result.witnesses ? [`witnessed       ${result.witnesses.message}`] : []),
            ].join('\n')
          : describeDivergence(ctx.style.status('fail', `Bundle ${file} failed verification`), result.firstDivergence),
      );
      if (!result.ok) throw new ExitCode(1);
    });
}

/** Gathers small writes into chunks of at least 1 MiB for `write` (one system call each). */
function coalesce(write: (chunk: Buffer) => void): { write: (chunk: Buffer) => void; flush: () => void } {
  let pending: Buffer[] = [];
  let bytes = 0;
  const flush = (): void => {
    if (bytes > 0) write(pending.length === 1 ? pending[0]! : Buffer.concat(pending, bytes));
    pending = [];
    bytes = 0;
  };
  return {
    write: (chunk) => {
      pending.push(chunk);
      bytes += chunk.length;
      if (bytes >= 1 << 20) flush();
    },
    flush,
  };
}

/**
 * A progress bar whose total is learnt from the first report (replay reports the whole log, then
 * the run's events); silent off a TTY and with --json.
 */
function progressBar(ctx: CliContext, label: string, json: boolean): { update: (done: number, total: number) => void; stop: () => void } {
  let bar: ReturnType<CliContext['progress']> | undefined;
  let barTotal = -1;
  return {
    update: (done, total) => {
      if (total !== barTotal) {
        bar?.stop();
        bar = ctx.progress(label, total, json);
        barTotal = total;
      }
      bar?.update(done);
    },
    stop: () => bar?.stop(),
  };
}


/** --key values (vkey text or a file holding one), else the home's key; `note` says when the home key is used. */
function verifierKeys(ctx: CliContext, given: string[] | undefined, note: boolean): string[] {
  if (given && given.length > 0) {
    // A value without "+" cannot be a vkey: it names a file holding one.
    return given.map((k) => (k.includes('+') ? k.trim() : readKeyFile(k)));
  }
  if (hasSigningKey(ctx.home())) {
    if (note) ctx.note(`runledger: no --key given; trusting the verifier key of home ${ctx.home()}`);
    return [loadVerifierKey(ctx.home())];
  }
  throw new InputError('no verifier key: pass --key <vkey> (the signer\'s "runledger keys show")', { field: '--key' });
}

function readKeyFile(path: string): string {
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new InputError(`--key "${path}" is neither a verifier key (<name>+<id>+<key>) nor a file holding one`, { field: '--key', file: path });
  }
  return readFileSync(path, 'utf8').trim();
}

const HEX64 = /^[0-9a-f]{64}$/;

/** NAME=<sha256>, NAME=FILE or FILE → named digests (files are hashed with SHA-256). */
function digests(items: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    const name = eq > 0 ? item.slice(0, eq) : item;
    const value = eq > 0 ? item.slice(eq + 1) : item;
    if (HEX64.test(value)) {
      out[name] = value;
    } else if (existsSync(value) && statSync(value).isFile()) {
      out[name] = sha256Hex(readFileSync(value));
    } else {
      throw new InputError(`${flag} ${item}: expected NAME=<64 hex sha256>, NAME=FILE or an existing FILE`, { field: flag });
    }
    if (name.length === 0) throw new InputError(`${flag} ${item}: empty name`, { field: flag });
  }
  return out;
}

function number(flag: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min) throw new InputError(`${flag} must be a number ≥ ${min}, got "${value}"`, { field: flag });
    return n;
  };
}

function integer(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isSafeInteger(n)) throw new InputError(`${flag} must be an integer, got "${value}"`, { field: flag });
    return n;
  };
}

function describeDivergence(title: string, d: RunDivergence | undefined): string {
  if (!d) return `${title}.`;
  const event = d.eventId ? `${d.type ?? 'event'} ${d.eventId}, stream ${d.stream} revision ${d.revision}${d.index !== undefined ? `, leaf ${d.index}` : ''}` : undefined;
  return [
    `${title} at the first divergence:`,
    `  check:    ${d.check}`,
    ...(d.rule ? [`  rule:     ${d.rule}`] : []),
    ...(d.section ? [`  section:  ${d.section}`] : []),
    ...(event ? [`  event:    ${event}`] : []),
    ...(d.expected !== undefined ? [`  expected: ${d.expected}`] : []),
    ...(d.actual !== undefined ? [`  actual:   ${d.actual}`] : []),
    `  ${d.message}`,
  ].join('\n');
}
