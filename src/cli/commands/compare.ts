// compare and gate: a baseline and one or more candidates (runs or campaigns) judged by a policy;
// both record the decision as events. `gate` is the CI form: exit 1 on a hard breach, JUnit and
// Markdown files. Two or more candidates take the multi-candidate path (src/gates/multi.ts).
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { githubAnnotations } from '../../gates/annotations.js';
import { gateJunit, multiGateJunit } from '../../gates/junit.js';
import { gateMarkdown, multiGateMarkdown } from '../../gates/markdown.js';
import { fmt } from '../../gates/regression.js';
import { gateExitCode } from '../../gates/report.js';
import { rederiveComparison, runBudgets, runGate, runMultiGate, type BudgetRun, type ComparisonRederivation, type GateRun, type MultiGateRun } from '../../gates/run-gate.js';
import { ExitCode, withJson, type CliContext } from '../context.js';
import { openOutputs } from '../output-path.js';
import { count, VERDICT_TONE, type Style } from '../style.js';
import { runTrust } from '../run-trust.js';

interface CompareOptions {
  baseline: string;
  /** One or more refs: `--candidate a,b` and repeated `--candidate` both collect here. */
  candidate: string[];
  policy?: string;
  key?: string[];
  json?: boolean;
}

interface GateOptions extends CompareOptions {
  junit?: string;
  markdown?: string;
  strict?: boolean;
  github?: boolean;
}

const LABEL = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' } as const;
const label = (style: Style, verdict: keyof typeof LABEL): string => style.status(VERDICT_TONE[verdict], LABEL[verdict]);

function humanReport(run: GateRun, style: Style): string {
  const r = run.report;
  const lines = [
    `${r.candidate.kind} ${r.candidate.ref} (${r.candidate.runs.length} run${r.candidate.runs.length === 1 ? '' : 's'}) vs baseline ${r.baseline.kind} ${r.baseline.ref} (${r.baseline.runs.length}), aggregation ${r.aggregation}`,
    ...r.rules.map((rule) => `  ${label(style, rule.verdict)}  ${rule.metric} (${rule.direction}, ${rule.severity})${rule.delta === null ? '' : ` Δ ${fmt(rule.delta)}`}: ${rule.reason}`),
    ...r.budgets.map((b) => `  ${label(style, b.verdict)}  budget ${b.run}/${b.stage} ${b.budget} (${b.severity}): ${b.reason}`),
    `verdict: ${label(style, r.verdict)} (${r.hardBreaches} hard, ${r.softBreaches} soft breach${r.softBreaches === 1 ? '' : 'es'}${r.strict ? ', strict' : ''})`,
    `verified: ${run.verifiedRuns.length} run${run.verifiedRuns.length === 1 ? '' : 's'} replayed against the signed checkpoint before their metrics were used`,
    `recorded: ${run.recorded.stream}${run.recorded.duplicate ? ' (already recorded by an identical earlier evaluation)' : ''}`,
  ];
  return lines.join('\n');
}

function jsonReport<R>(run: { report: R; recorded: GateRun['recorded']; verifiedRuns: string[] }): R & { recorded: GateRun['recorded']; verifiedRuns: string[] } {
  return { ...run.report, recorded: run.recorded, verifiedRuns: run.verifiedRuns };
}

const OMNIBUS = { 'kruskal-wallis': 'Kruskal–Wallis', anova: 'one-way ANOVA' } as const;

function humanMultiReport(run: MultiGateRun, style: Style): string {
  const r = run.report;
  const count = (n: number): string => `${n} run${n === 1 ? '' : 's'}`;
  const lines = [
    `${r.candidates.length} candidates ${r.candidates.map((c) => `${c.ref} (${count(c.runs.length)})`).join(', ')} vs baseline ${r.baseline.kind} ${r.baseline.ref} (${count(r.baseline.runs.length)}), aggregation ${r.aggregation}`,
    `${OMNIBUS[r.settings.omnibus]}; ${r.settings.compare === 'baseline' ? 'each candidate against the baseline' : 'every pair of groups'}; Holm over ${r.family.size} test${r.family.size === 1 ? '' : 's'} at family α ${fmt(r.family.alpha)}`,
  ];
  for (const m of r.metrics) {
    const omnibus =
      m.omnibus?.kind === 'kruskal-wallis'
        ? `: Kruskal–Wallis H=${fmt(m.omnibus.h)}, p=${fmt(m.omnibus.pValue)}`
        : m.omnibus?.kind === 'anova'
          ? `: ANOVA F(${m.omnibus.dfBetween}, ${m.omnibus.dfWithin})=${fmt(m.omnibus.f)}, p=${fmt(m.omnibus.pValue)}`
          : '';
    lines.push(`${m.metric} (${m.direction})${omnibus}${m.note ? ` — ${m.note}` : ''}`);
    if (m.power) lines.push(`  power: ${m.power.text}`);
    for (const c of r.results) {
      const rule = c.rules.find((x) => x.metric === m.metric)!;
      lines.push(`  ${label(style, rule.verdict)}  ${c.ref} (${rule.severity})${rule.delta === null ? '' : ` Δ ${fmt(rule.delta)}`}: ${rule.reason}`);
    }
  }
  lines.push(
    ...r.budgets.map((b) => `  ${label(style, b.verdict)}  budget ${b.run}/${b.stage} ${b.budget} (${b.severity}): ${b.reason}`),
    ...r.results.map((c) => `${c.ref}: ${label(style, c.verdict)} (${c.hardBreaches} hard, ${c.softBreaches} soft)`),
    `verdict: ${label(style, r.verdict)} (${r.hardBreaches} hard, ${r.softBreaches} soft breach${r.softBreaches === 1 ? '' : 'es'}${r.strict ? ', strict' : ''})`,
    `verified: ${run.verifiedRuns.length} run${run.verifiedRuns.length === 1 ? '' : 's'} replayed against the signed checkpoint before their metrics were used`,
    `recorded: ${run.recorded.stream}${run.recorded.duplicate ? ' (already recorded by an identical earlier evaluation)' : ''}`,
  );
  return lines.join('\n');
}

/** `--candidate a,b` and `--candidate a --candidate b` both give [a, b]; an empty name is refused. */
function collectCandidates(value: string, previous: string[] = []): string[] {
  const refs = value.split(',').map((r) => r.trim());
  if (refs.some((r) => r === '')) throw new InputError(`--candidate "${value}": a candidate name is empty (use a,b,c without empty entries)`, { field: 'candidate' });
  return [...previous, ...refs];
}

function sides(command: Command): Command {
  return command
    .requiredOption('--baseline <ref>', 'baseline run id or campaign name')
    .requiredOption('--candidate <refs>', 'candidate run id or campaign name; two or more (a,b,c) compare all candidates together', collectCandidates)
    .option('--policy <file>', 'policy YAML (docs/gates.md); default: every shared metric, 1% relative tolerance')
    .option('--key <vkey...>', 'trusted verifier key(s) for replaying the runs (default: the home key)');
}

type AnyGateRun = { multi: false; run: GateRun } | { multi: true; run: MultiGateRun };

/** One candidate: the two-sample gate; two or more: the multi-candidate gate. */
async function gateFor(ctx: CliContext, opts: CompareOptions & { strict?: boolean }): Promise<AnyGateRun> {
  const store = await ctx.store();
  // Every run of every side is replayed before its metrics are used (docs/gates.md).
  const common = { baseline: opts.baseline, policyFile: opts.policy, strict: opts.strict ?? false, trust: await runTrust(ctx.home(), store, opts.key) };
  if (opts.candidate.length === 1) return { multi: false, run: await runGate(store, ctx.home(), { ...common, candidate: opts.candidate[0]! }) };
  return { multi: true, run: await runMultiGate(store, ctx.home(), { ...common, candidates: opts.candidate }) };
}

function printGate(ctx: CliContext, json: boolean, gate: AnyGateRun): void {
  if (gate.multi) ctx.print(json, jsonReport(gate.run), () => humanMultiReport(gate.run, ctx.style));
  else ctx.print(json, jsonReport(gate.run), () => humanReport(gate.run, ctx.style));
}

export function registerCompareCommands(program: Command, ctx: CliContext): void {
  registerBudgetsCommand(program, ctx);
  registerRederiveCommand(program, ctx);
  withJson(sides(program.command('compare')))
    .description(
      'compare one or more candidate runs or campaigns with a baseline under a policy; records ComparisonRecorded and RegressionGateEvaluated (MultiComparisonRecorded and MultiGateEvaluated for two or more)',
    )
    .action(async (opts: CompareOptions) => {
      printGate(ctx, opts.json ?? false, await gateFor(ctx, { ...opts, strict: false }));
    });

  withJson(sides(program.command('gate')))
    .description('CI regression and budget gate: exit 1 on a hard breach (or any breach with --strict), 0 otherwise')
    .option('--junit <file>', 'write a JUnit XML report')
    .option('--markdown <file>', 'write a Markdown summary')
    .option('--strict', 'soft breaches fail the gate too')
    .option('--github', 'also print GitHub Actions ::error/::warning annotations (stderr with --json); docs/ci.md')
    .action(async (opts: GateOptions) => {
      // Checked before the gate records anything: a report that cannot be written must not cost an append.
      const [junit, markdown] = openOutputs([
        [opts.junit, '--junit'],
        [opts.markdown, '--markdown'],
      ]);
      let gate: AnyGateRun;
      try {
        gate = await gateFor(ctx, opts);
        junit?.write(gate.multi ? multiGateJunit(gate.run.report) : gateJunit(gate.run.report));
        markdown?.write(gate.multi ? multiGateMarkdown(gate.run.report) : gateMarkdown(gate.run.report));
      } finally {
        junit?.discard();
        markdown?.discard();
      }
      const report = gate.run.report;
      if (opts.github) for (const line of githubAnnotations(report)) (opts.json ? ctx.stderr : ctx.stdout).write(`${line}\n`);
      printGate(ctx, opts.json ?? false, gate);
      if (report.verdict === 'warn') ctx.note(`runledger: gate passed with ${count(report.softBreaches, 'soft breach', 'soft breaches')}; --strict would fail it`);
      const code = gateExitCode(report);
      if (code !== 0) throw new ExitCode(code);
    });
}

function humanRederive(r: ComparisonRederivation, style: Style): string {
  const batches = r.batches.map((b) => `  ${r.stream}@${b.revision}: ${b.kind === 'multi' ? 'multi-candidate' : 'two-sample'} gate${b.strict ? ' (strict)' : ''}, verdict ${label(style, b.verdict)}, ${b.events} events re-derived identically`);
  if (!r.ok) return [...batches, `DIVERGED: ${r.firstDivergence!.message}`].join('\n');
  return [
    ...batches,
    `re-derived: every number, verdict and finding matches its recorded evidence; the recorded values are the final metrics and budgets of ${r.runsChecked} run${r.runsChecked === 1 ? '' : 's'} in the ledger`,
    `and every one of those runs was replayed and verified first (runledger replay's checks)`,
  ].join('\n');
}

function humanBudgets(r: BudgetRun, style: Style): string {
  return [
    `${r.kind} ${r.ref}: ${r.budgets.length} budget check${r.budgets.length === 1 ? '' : 's'} over ${r.runs.length} run${r.runs.length === 1 ? '' : 's'}`,
    ...r.budgets.map((b) => `  ${label(style, b.verdict)}  ${b.run}/${b.stage} ${b.budget} (${b.severity}): ${b.reason}`),
    `verdict: ${label(style, r.verdict)} (${r.hardBreaches} hard, ${r.softBreaches} soft breach${r.softBreaches === 1 ? '' : 'es'}, ${r.unproven} unproven)`,
    ...(r.recorded.length ? [`recorded AuditFinding events on ${r.recorded.join(', ')}`] : []),
  ].join('\n');
}

function registerRederiveCommand(program: Command, ctx: CliContext): void {
  withJson(program.command('rederive'))
    .description("re-derive a recorded comparison (compare/gate evidence) from its own events and check its values against the runs in the ledger; exit 1 on any divergence")
    .argument('<comparison-id>', 'the id compare and gate print (the evidence stream is comparison-<id>)')
    .option('--key <vkey...>', 'trusted verifier key(s) for replaying the runs (default: the home key)')
    .action(async (id: string, opts: { key?: string[]; json?: boolean }) => {
      const store = await ctx.store();
      const result = await rederiveComparison(store, ctx.home(), id.replace(/^comparison-/, ''), await runTrust(ctx.home(), store, opts.key));
      ctx.print(opts.json ?? false, result, () => humanRederive(result, ctx.style));
      if (!result.ok) throw new ExitCode(1);
    });
}

export function registerBudgetsCommand(program: Command, ctx: CliContext): void {
  withJson(program.command('budgets'))
    .description("validate a run's (or every campaign run's) telemetry against its plan's per-stage budgets; records an AuditFinding per breach; exit 1 on a hard breach")
    .argument('<ref>', 'run id or campaign name')
    .option('--policy <file>', 'policy YAML whose budgets.severity applies (default hard)')
    .option('--strict', 'soft breaches and budgets without telemetry fail too')
    .option('--key <vkey...>', 'trusted verifier key(s) for replaying the runs (default: the home key)')
    .action(async (ref: string, opts: { policy?: string; strict?: boolean; key?: string[]; json?: boolean }) => {
      const store = await ctx.store();
      const result = await runBudgets(store, ctx.home(), { ref, policyFile: opts.policy, strict: opts.strict ?? false, trust: await runTrust(ctx.home(), store, opts.key) });
      ctx.print(opts.json ?? false, result, () => humanBudgets(result, ctx.style));
      if (result.verdict === 'fail') throw new ExitCode(1);
    });
}
