// Training commands: train, retrain, campaign, submit, worker, demo.
// Thin: the work is done by workers/ (execution, re-execution, campaigns, the claim queue).
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import { InputError } from '../../errors.js';
import { readPlanFile } from '../../governance/plan-file.js';
import { recordFinding } from '../../governance/recorder.js';
import { createCheckpoint } from '../../ledger/checkpoint.js';
import { loadVerifierKey } from '../../ledger/keys.js';
import { ensureLedgerSigner, loadLedgerSigner } from '../../ledger/signer-state.js';
import { ensureOrigin } from '../../ledger/origin.js';
import { runTrust } from '../run-trust.js';
import { parseWorkerKeys } from '../worker-keys.js';
import { readLogPages } from '../../ledger/read.js';
import { verifyLog } from '../../replay/verify-log.js';
import { readRotationStatements } from '../../replay/key-history.js';
import { defaultStoreUrl, openStore } from '../../store/open.js';
import type { EventStore } from '../../store/port.js';
import { BACKENDS, type Backend } from '../../../events/training-config.js';
import type { ExecuteContext, RunOutcome } from '../../../workers/execute.js';
import type { CampaignReport } from '../../../workers/campaign.js';
import type { RetrainReport } from '../../../workers/retrain.js';
import { ExitCode, withJson, type CliContext, type Progress } from '../context.js';
import { checkCount, LIMITS } from '../../input/limits.js';
import { prepareOutputDirectory } from '../output-path.js';

interface JsonFlag {
  json?: boolean;
}

const backendOption = (): Option => new Option('--backend <backend>', 'TensorFlow.js backend (default: the plan\'s)').choices(BACKENDS);

// TensorFlow.js takes a noticeable time to load: only the training commands pay for it.
const load = {
  execute: () => import('../../../workers/execute.js'),
  campaign: () => import('../../../workers/campaign.js'),
  queue: () => import('../../../workers/queue.js'),
  retrain: () => import('../../../workers/retrain.js'),
  keys: () => import('../../ledger/worker-keys.js'),
  environment: () => import('../../../workers/environment.js'),
};

export function registerTrainingCommands(program: Command, ctx: CliContext): void {
  withJson(program.command('train'))
    .description("approve a training plan for a run, trusting this home's worker key, and execute it (or continue one with --resume); the worker key signs every checkpoint and training event")
    .option('--plan <file>', 'plan file with a governance.training section (docs/training.md)')
    .option('--run <run>', 'run id (default: <plan name>-<random>)')
    .option('--resume <run>', 'continue an interrupted run (or campaign) from its last verified checkpoint')
    .addOption(backendOption())
    .option('--stop-after-epoch <n>', 'train only up to this epoch and leave the run resumable', positiveInt('--stop-after-epoch'))
    .action(async (opts: JsonFlag & { plan?: string; run?: string; resume?: string; backend?: Backend; stopAfterEpoch?: number }) => {
      if (!opts.plan === !opts.resume) throw new InputError('train needs exactly one of --plan FILE or --resume RUN', { field: '--plan' });
      const { executeRun, newRunId, trainPlan } = await load.execute();
      const exec = await executeContext(ctx, opts.json ?? false);
      const limits = { ...(opts.backend ? { backend: opts.backend } : {}), ...(opts.stopAfterEpoch ? { stopAfterEpoch: opts.stopAfterEpoch } : {}) };
      let outcome: RunOutcome;
      try {
        if (opts.resume) {
          const { campaignRuns, resumeCampaign } = await load.campaign();
          if (await campaignRuns(exec.context.store, opts.resume)) {
            const report = await resumeCampaign(exec.context, opts.resume, (runId, i, n) => exec.label(`${runId} (${i}/${n})`));
            exec.stop();
            ctx.print(opts.json ?? false, report, () => describeCampaign(report));
            return;
          }
          outcome = await executeRun(exec.context, opts.resume, { ...limits, resume: true });
        } else {
          const plan = readPlanFile(opts.plan!);
          outcome = await trainPlan(exec.context, plan, opts.run ?? newRunId(plan), limits, opts.plan);
        }
      } finally {
        exec.stop();
      }
      ctx.print(opts.json ?? false, outcome, () => describeOutcome(outcome));
    });

  withJson(program.command('retrain'))
    .description('re-execute a run (or every run of a campaign) from its ledger in a fresh worker and compare every checkpoint digest')
    .argument('<run>', 'run id or campaign name')
    .option('--no-record', 'do not record the result as an AuditFinding on the run')
    .option('--repeat <n>', `re-execute N times, each in a fresh worker process, and stop at the first divergence (at most ${LIMITS.repeats})`, repeatCount)
    .action(async (target: string, opts: JsonFlag & { record: boolean; repeat?: number }) => {
      const { campaignRuns } = await load.campaign();
      const { retrainRun, perturbationFromEnv } = await load.retrain();
      const perturb = perturbationFromEnv();
      const store = await ctx.store();
      const trust = await runTrust(ctx.home(), store);
      const runs = (await campaignRuns(store, target)) ?? [target];
      const reports: RetrainReport[] = [];
      for (const runId of runs) {
        const bar = lazyProgress(ctx, `retrain ${runId}`, opts.json ?? false);
        try {
          reports.push(
            await retrainRun(store, runId, { ...trust, home: ctx.home(), repeat: opts.repeat ?? 1, ...(perturb ? { perturb } : {}), onProgress: bar.update }),
          );
        } finally {
          bar.stop();
        }
        const report = reports.at(-1)!;
        if (opts.record) await recordFinding(store, retrainFinding(report), ctx.actor());
        if (!report.match) break;
      }
      const match = reports.every((r) => r.match);
      ctx.print(opts.json ?? false, runs.length === 1 ? reports[0] : { campaign: target, match, runs: reports }, () => reports.map(describeRetrain).join('\n'));
      if (!match) throw new ExitCode(1);
    });

  withJson(program.command('campaign'))
    .description('run a plan N times with per-run seeds derived from its seed; records campaign stream campaign-<name> linking the runs')
    .requiredOption('--plan <file>', 'plan file')
    .requiredOption('--repeats <n>', `number of runs (at most ${LIMITS.repeats})`, repeats)
    .option('--name <name>', 'campaign name (default: the plan name); runs are <name>-1 … <name>-N')
    .addOption(backendOption())
    .action(async (opts: JsonFlag & { plan: string; repeats: number; name?: string; backend?: Backend }) => {
      const plan = readPlanFile(opts.plan);
      const { runCampaign } = await load.campaign();
      const exec = await executeContext(ctx, opts.json ?? false);
      let report: CampaignReport;
      try {
        report = await runCampaign(
          exec.context,
          plan,
          {
            name: opts.name ?? plan.governance.name,
            repeats: opts.repeats,
            ...(opts.backend ? { backend: opts.backend } : {}),
            onRunStarted: (runId, i, n) => exec.label(`${runId} (${i}/${n})`),
          },
          opts.plan,
        );
      } finally {
        exec.stop();
      }
      ctx.print(opts.json ?? false, report, () => describeCampaign(report));
    });

  withJson(program.command('submit'))
    .description('approve a training plan for a run and queue it for any "runledger worker" sharing this store whose worker key the approval trusts')
    .requiredOption('--plan <file>', 'plan file')
    .option('--run <run>', 'run id (default: <plan name>-<random>)')
    .option('--worker-key <key...>', 'worker keys the approval trusts ("runledger keys show --worker" on each worker; default: this home\'s)')
    .addOption(backendOption())
    .action(async (opts: JsonFlag & { plan: string; run?: string; backend?: Backend; workerKey?: string[] }) => {
      const plan = readPlanFile(opts.plan);
      const { submitRun } = await load.queue();
      const { newRunId } = await load.execute();
      const workerKeys = opts.workerKey ? parseWorkerKeys(opts.workerKey) : [(await load.keys()).homeWorkerKeys(ctx.home()).publicKey];
      const store = await ctx.store();
      const result = await submitRun(store, plan, opts.run ?? newRunId(plan), {
        planFile: opts.plan,
        actor: ctx.actor(),
        workerKeys,
        ...(opts.backend ? { backend: opts.backend } : {}),
      });
      ctx.print(opts.json ?? false, result, () => `Submitted run ${result.runId} (${result.backend}); governance plan ${result.governancePlanHash}`);
    });

  withJson(program.command('worker'))
    .description('claim submitted runs from the ledger and execute them; two workers never execute the same run (--brokers: a ledger on another machine, through Kafka)')
    .option('--until-idle', 'exit when no unclaimed run is left instead of polling')
    .option('--max-runs <n>', 'exit after executing this many runs', positiveInt('--max-runs'))
    .option('--poll-ms <ms>', 'how often to look for new runs', positiveInt('--poll-ms'), 1000)
    .option('--id <worker>', 'worker id recorded in claims and telemetry (default: <host>:<pid>, env RUNLEDGER_WORKER)')
    .option('--brokers <list>', 'reach the ledger through Kafka at host:port[,host:port…] instead of its store: read its relay topic, publish to its ingest topic')
    .option('--relay-topic <topic>', 'with --brokers: the topic "runledger relay" publishes the ledger on', 'runledger.events')
    .option('--ingest-topic <topic>', 'with --brokers: the topic "runledger ingest" appends from', 'runledger.ingest')
    .action(async (opts: JsonFlag & { untilIdle?: boolean; maxRuns?: number; pollMs: number; id?: string; brokers?: string; relayTopic: string; ingestTopic: string }) => {
      const { runWorker } = await load.queue();
      const worker = opts.id ?? (ctx.env.RUNLEDGER_WORKER || (await load.environment()).defaultWorkerId());
      const remote = opts.brokers !== undefined ? await openRemote(ctx, worker, opts as typeof opts & { brokers: string }) : undefined;
      const exec = remote ? await contextFor(ctx, remote.link.store, ctx.home(), true, worker) : await executeContext(ctx, true, worker);
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const finished: (RunOutcome | { runId: string; error: string })[] = [];
      try {
        await runWorker(exec.context, {
          untilIdle: opts.untilIdle ?? false,
          pollMs: opts.pollMs,
          signal: stop.signal,
          ...(opts.maxRuns ? { maxRuns: opts.maxRuns } : {}),
          ...(remote ? { link: remote.link } : {}),
          onClaimed: (runId) => {
            if (!opts.json) ctx.note(`${worker}: claimed run ${runId}`);
          },
          onLost: (runId) => {
            if (!opts.json) ctx.note(`${worker}: another worker's claim of run ${runId} was recorded first`);
          },
          onFinished: (outcome) => finished.push(outcome),
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await remote?.close();
      }
      const failed = finished.filter((f) => 'error' in f);
      ctx.print(opts.json ?? false, { worker, executed: finished }, () =>
        finished.length === 0
          ? `${worker}: no submitted runs to execute`
          : finished.map((f) => ('error' in f ? `${f.runId}: failed: ${f.error}` : describeOutcome(f))).join('\n'),
      );
      if (failed.length) throw new ExitCode(1);
    });

  withJson(program.command('demo'))
    .description('a guided tour on a fresh embedded store: baseline, candidate and candidate-2 campaigns, signed checkpoints, a signed and verified ledger')
    .option('--dir <dir>', 'home for the demo (default: --home or RUNLEDGER_HOME if it holds no ledger yet, else a new temporary directory)')
    .option('--repeats <n>', `runs per campaign (at most ${LIMITS.repeats})`, repeats, 5)
    .action(async (opts: JsonFlag & { dir?: string; repeats: number }) => {
      await runDemo(ctx, program, opts);
    });
}

/** `worker --brokers`: the ledger through Kafka, mirrored in memory (src/kafka/remote-ledger.ts). */
async function openRemote(
  ctx: CliContext,
  worker: string,
  opts: { brokers: string; relayTopic: string; ingestTopic: string },
): Promise<{ link: import('../../../workers/queue.js').LedgerLink; close(): Promise<void> }> {
  const { parseBrokers } = await import('../../kafka/connection.js');
  const { openRemoteLedger } = await import('../../kafka/remote-ledger.js');
  const { checkTopic } = await import('./kafka.js');
  const brokers = parseBrokers(opts.brokers);
  const relayTopic = checkTopic(opts.relayTopic, '--relay-topic');
  const ingestTopic = checkTopic(opts.ingestTopic, '--ingest-topic');
  const mirror = await openStore('sqlite::memory:');
  try {
    const link = await openRemoteLedger({ brokers, relayTopic, ingestTopic, mirror, clientId: `runledger-worker-${worker}`, onRefused: (stream, reason) => ctx.note(`${worker}: not executing ${stream}: its relayed copy was refused: ${reason}`) });
    return { link, close: async () => (await link.close(), await mirror.close()) };
  } catch (err) {
    await mirror.close();
    throw err;
  }
}

/** The execution context for the home and store, with a TTY progress bar that follows the stages. */
async function executeContext(
  ctx: CliContext,
  quiet: boolean,
  worker?: string,
): Promise<{ context: ExecuteContext; label(text: string): void; stop(): void }> {
  const home = ctx.home();
  const store = await ctx.store();
  return contextFor(ctx, store, home, quiet, worker ?? ctx.env.RUNLEDGER_WORKER);
}

async function contextFor(
  ctx: CliContext,
  store: EventStore,
  home: string,
  quiet: boolean,
  worker?: string,
): Promise<{ context: ExecuteContext; label(text: string): void; stop(): void }> {
  const { homeWorkerKeys } = await load.keys();
  let prefix = '';
  let bar: { key: string; progress: Progress } | null = null;
  const stop = (): void => {
    bar?.progress.stop();
    bar = null;
  };
  const context: ExecuteContext = {
    store,
    home,
    keys: { signer: homeWorkerKeys(home).signer },
    ...(worker ? { worker } : {}),
    onProgress: (stageId, done, total) => {
      const key = `${prefix}${stageId}`;
      if (bar?.key !== key) {
        stop();
        bar = { key, progress: ctx.progress(`${prefix}${stageId}`, total, quiet) };
      }
      bar.progress.update(done);
    },
  };
  return { context, label: (text) => ((prefix = `${text} `), stop()), stop };
}

/** A progress bar created on the first update, when the total is known. */
export function lazyProgress(ctx: CliContext, label: string, quiet: boolean): { update(done: number, total: number): void; stop(): void } {
  let bar: Progress | null = null;
  return {
    update: (done, total) => {
      bar ??= ctx.progress(label, total, quiet);
      bar.update(done);
    },
    stop: () => bar?.stop(),
  };
}

function retrainFinding(report: RetrainReport): Parameters<typeof recordFinding>[1] {
  const diff = report.firstDifference;
  return {
    runId: report.runId,
    severity: report.match ? 'info' : 'hard',
    check: 'retrain.checkpoints',
    message: report.match
      ? `${times(report)} on ${report.backend} reproduced all ${report.checkpoints.length} checkpoint digests`
      : `re-execution ${diff!.repetition} of ${report.repeat.requested} on ${report.backend} differs at the checkpoint of epoch ${diff!.epoch} (step ${diff!.step})${diff!.tensor ? `, first in ${tensorAt(diff!.tensor)}` : ''}`,
    subject: diff ? `checkpoint:${diff.recorded}` : null,
    details: { backend: report.backend, simd: report.simd, tfjsVersion: report.tfjsVersion, repeat: report.repeat, checkpoints: report.checkpoints, firstDifference: diff },
  };
}

function describeOutcome(o: RunOutcome): string {
  const m = o.metrics;
  return [
    `Run ${o.runId} ${o.status === 'completed' ? 'completed' : 'stopped early; continue with "runledger train --resume ' + o.runId + '"'} on ${o.backend.name} (tfjs ${o.backend.tfjsVersion}, ${o.backend.threads ?? '?'} thread${o.backend.threads === 1 ? '' : 's'}), seed ${o.seed}`,
    `governance plan ${o.governancePlanHash}`,
    `execution plan  ${o.executionPlanHash}`,
    ...o.checkpoints.map((c) => `checkpoint epoch ${String(c.epoch).padStart(3)} step ${String(c.step).padStart(5)}  ${c.digest}`),
    ...(m ? [`held-out accuracy ${m.testAccuracy.toFixed(4)}, loss ${m.testLoss.toFixed(4)} (train accuracy ${m.trainAccuracy.toFixed(4)})`] : []),
  ].join('\n');
}

function times(r: RetrainReport): string {
  return r.repeat.executed === 1 ? 're-execution' : `${r.repeat.executed} re-executions (fresh worker processes)`;
}

function tensorAt(t: NonNullable<NonNullable<RetrainReport['firstDifference']>['tensor']>): string {
  return `tensor ${t.name}[${t.index}]: recorded ${t.recorded} (${t.recordedBits}), re-executed ${t.recomputed} (${t.recomputedBits})`;
}

function describeRetrain(r: RetrainReport): string {
  const n = r.checkpoints.length;
  const on = `${r.backend}${r.simd === null ? '' : r.simd ? ' (SIMD)' : ' (no SIMD)'}`;
  if (r.match) {
    const all = n === 1 ? 'its checkpoint digest matches' : `all ${n} checkpoint digests match`;
    return `Run ${r.runId}: re-executed on ${on}${r.repeat.executed > 1 ? ` ${r.repeat.executed} times, each in a fresh worker process` : ''}; ${all}${r.repeat.executed > 1 ? ' in every repetition' : ''}`;
  }
  const d = r.firstDifference!;
  const versions = r.tfjsVersion.recorded !== r.tfjsVersion.current ? ` (recorded with tfjs ${r.tfjsVersion.recorded}, re-executed with ${r.tfjsVersion.current})` : '';
  const which = r.repeat.requested > 1 ? `repetition ${d.repetition} of ${r.repeat.requested}: ` : '';
  return [
    `Run ${r.runId}: ${which}checkpoint of epoch ${d.epoch} (step ${d.step}) differs${versions}: recorded ${d.recorded}, re-executed ${d.recomputed ?? 'nothing'}`,
    ...(d.tensor ? [`  first difference in ${tensorAt(d.tensor)}`] : []),
  ].join('\n');
}

function describeCampaign(r: CampaignReport): string {
  return [
    `Campaign ${r.campaign}: ${r.runs.length} runs from base seed ${r.baseSeed} (stream ${r.stream})`,
    ...r.runs.map((run) => `  ${run.runId.padEnd(24)} seed ${String(run.seed).padStart(10)}  accuracy ${run.testAccuracy?.toFixed(4) ?? '-'}  ${run.finalCheckpoint ?? ''}`),
    `mean held-out accuracy ${r.meanTestAccuracy?.toFixed(4) ?? '-'}`,
  ].join('\n');
}

async function runDemo(ctx: CliContext, program: Command, opts: JsonFlag & { dir?: string; repeats: number }): Promise<void> {
  const json = opts.json ?? false;
  // The demo fills a fresh embedded ledger: --dir, --home or RUNLEDGER_HOME when given (so `serve`
  // with the same home shows it), else a temporary directory. RUNLEDGER_STORE may name a real ledger
  // and is ignored; a home that already holds a ledger is refused rather than mixed with demo runs.
  const chosenHome = opts.dir ?? ctx.globals.home ?? ctx.env.RUNLEDGER_HOME;
  const option = opts.dir !== undefined ? '--dir' : ctx.globals.home !== undefined ? '--home' : 'RUNLEDGER_HOME';
  const home = chosenHome !== undefined ? prepareOutputDirectory(chosenHome, option) : mkdtempSync(join(tmpdir(), 'runledger-demo-'));
  const storeUrl = ctx.globals.store ?? defaultStoreUrl(home);
  if (!ctx.globals.store && existsSync(join(home, 'ledger.db'))) {
    throw new InputError(`${home} already holds a ledger; the demo needs a fresh home: pass --dir <new directory> or unset RUNLEDGER_HOME`, { field: '--dir' });
  }
  const say = (line: string): void => {
    if (!json) ctx.stdout.write(`${line}\n`);
  };
  const started = Date.now();
  const store = await openStore(storeUrl);
  try {
    const { origin } = await ensureOrigin(store);
    ensureLedgerSigner(home, origin);
    say(`runledger demo — home ${home}`);
    say(`store ${store.displayUrl}, verifier key ${loadVerifierKey(home)}`);
    const exec = await contextFor(ctx, store, home, json);
    const { runCampaign } = await load.campaign();
    const { retrainRun } = await load.retrain();
    const campaigns: CampaignReport[] = [];
    try {
      for (const [name, file] of [
        ['baseline', 'train.yaml'],
        ['candidate', 'train-regressed.yaml'],
        ['candidate-2', 'train-candidate-2.yaml'],
      ] as const) {
        const path = exampleFile(file);
        say(`\n${name}: ${opts.repeats} runs of docs/examples/${file}`);
        const report = await runCampaign(
          exec.context,
          readPlanFile(path),
          { name, repeats: opts.repeats, onRunStarted: (runId, i, n) => exec.label(`${runId} (${i}/${n})`) },
          path,
        );
        exec.stop();
        campaigns.push(report);
        say(describeCampaign(report));
      }
    } finally {
      exec.stop();
    }
    const first = campaigns[0]!.runs[0]!.runId;
    const retrain = await retrainRun(store, first, await runTrust(home, store));
    say(`\n${describeRetrain(retrain)}`);
    const { checkpoint } = await createCheckpoint(store, loadLedgerSigner(home), origin);
    say(`ledger checkpoint signed: ${checkpoint.size} events, root ${checkpoint.root}`);
    const verification = await verifyLog(readLogPages(store), { checkpoints: await store.checkpoints(), verifierKeys: [loadVerifierKey(home)], origin, rotations: await readRotationStatements(store) });
    say(`ledger verified from raw events: ${verification.ok ? 'ok' : 'FAILED'}`);
    const available = new Set(program.commands.map((c) => c.name()));
    // `npx runledger`: after `npm ci` the command is not on PATH (test/cli/demo.test.ts runs these lines).
    const r = `npx runledger --home ${shellWord(home)}`;
    const steps: [string, string][] = [
      [`${r} runs`, 'every run with its status, metrics and verification'],
      [`${r} replay ${first}`, 're-verify one run: chain, inclusion, stage order, plan parity'],
      [`${r} retrain candidate`, 're-execute a whole campaign and compare every checkpoint'],
      [`${r} events --stream run-${first}`, 'every event of one run'],
      ...(available.has('compare') ? [[`${r} compare --baseline baseline --candidate candidate`, 'baseline vs candidate, metric by metric'] as [string, string]] : []),
      ...(available.has('gate') ? [[`${r} gate --baseline baseline --candidate candidate`, 'exits 1: the candidate regressed'] as [string, string]] : []),
      ...(available.has('compare')
        ? [[`${r} compare --baseline baseline --candidate candidate,candidate-2 --policy ${shellWord(relative(process.cwd(), exampleFile('policy-multi.yaml')) || 'policy-multi.yaml')}`, 'both candidates at once: omnibus test, Holm, effect sizes, power'] as [string, string]]
        : []),
      ...(available.has('serve') ? [[`${r} serve`, 'live dashboard on 127.0.0.1'] as [string, string]] : []),
      [`${r} export ${first} --out ${shellWord(join(home, `${first}.bundle`))}`, 'an offline audit bundle (check it with verify-bundle)'],
    ];
    const width = Math.max(...steps.map(([c]) => c.length));
    const next = steps.map(([command, why]) => `${command.padEnd(width)}  # ${why}`);
    say(`\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s. Next:`);
    for (const line of next) say(`  ${line}`);
    const report = {
      home,
      store: store.displayUrl,
      campaigns,
      retrain: { runId: retrain.runId, match: retrain.match },
      checkpoint: { size: checkpoint.size, root: checkpoint.root },
      verified: verification.ok,
      next,
      wallMs: Date.now() - started,
    };
    if (json) ctx.print(true, report, () => '');
    if (!verification.ok || !retrain.match) throw new ExitCode(1);
  } finally {
    await store.close();
  }
}

/** A path as one shell word, quoted only when it needs to be. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** docs/examples/<file> of this installation (the package ships docs/). */
function exampleFile(file: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'docs', 'examples', file);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new InputError(`docs/examples/${file} is missing from this installation`, { file });
    dir = parent;
  }
}


/** retrain --repeat: a positive integer within the same limit as a campaign's runs. */
function repeatCount(value: string): number {
  const n = positiveInt('--repeat')(value);
  checkCount(`--repeat ${value}`, 'a retrain', n, LIMITS.repeats, 're-executions', { field: '--repeat' });
  return n;
}

/** --repeats: a positive integer within the input limits (docs/limits.md), so `1e9` is refused before any run. */
function repeats(value: string): number {
  const n = positiveInt('--repeats')(value);
  checkCount(`--repeats ${value}`, 'the campaign', n, LIMITS.repeats, 'runs', { field: '--repeats' });
  return n;
}

function positiveInt(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InputError(`${flag} must be a positive integer, got "${value}"`, { field: flag });
    return n;
  };
}
