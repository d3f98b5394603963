// compare and gate: a baseline and a candidate (runs or campaigns) judged by a policy; both record
// the decision as events. `gate` is the CI form: exit 1 on a hard breach, JUnit and Markdown files.
import type { Command } from 'commander';
import { gateJunit } from '../../gates/junit.js';
import { gateMarkdown } from '../../gates/markdown.js';
import { fmt } from '../../gates/regression.js';
import { gateExitCode, type GateReport } from '../../gates/report.js';
import { runBudgets, runGate, type BudgetRun, type GateRun } from '../../gates/run-gate.js';
import { ExitCode, withJson, type CliContext } from '../context.js';
import { openOutputs } from '../output-path.js';

interface CompareOptions {
  baseline: string;
  candidate: string;
  policy?: string;
  json?: boolean;
}

interface GateOptions extends CompareOptions {
  junit?: string;
  markdown?: string;
  strict?: boolean;
}

const LABEL = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' } as const;

function humanReport(run: GateRun): string {
  const r = run.report;
  const lines = [
    `${r.candidate.kind} ${r.candidate.ref} (${r.candidate.runs.length} run${r.candidate.runs.length === 1 ? '' : 's'}) vs baseline ${r.baseline.kind} ${r.baseline.ref} (${r.baseline.runs.length}), aggregation ${r.aggregation}`,
    ...r.rules.map((rule) => `  ${LABEL[rule.verdict]}  ${rule.metric} (${rule.direction}, ${rule.severity})${rule.delta === null ? '' : ` Δ ${fmt(rule.delta)}`}: ${rule.reason}`),
    ...r.budgets.map((b) => `  ${LABEL[b.verdict]}  budget ${b.run}/${b.stage} ${b.budget} (${b.severity}): ${b.reason}`),
    `verdict: ${LABEL[r.verdict]} (${r.hardBreaches} hard, ${r.softBreaches} soft breach${r.softBreaches === 1 ? '' : 'es'}${r.strict ? ', strict' : ''})`,
    `recorded: ${run.recorded.stream}${run.recorded.duplicate ? ' (already recorded by an identical earlier evaluation)' : ''}`,
  ];
  return lines.join('\n');
}

function jsonReport(run: GateRun): GateReport & { recorded: GateRun['recorded'] } {
  return { ...run.report, recorded: run.recorded };
}

function sides(command: Command): Command {
  return command
    .requiredOption('--baseline <ref>', 'baseline run id or campaign name')
    .requiredOption('--candidate <ref>', 'candidate run id or campaign name')
    .option('--policy <file>', 'policy YAML (docs/gates.md); default: every shared metric, 1% relative tolerance');
}

export function registerCompareCommands(program: Command, ctx: CliContext): void {
  registerBudgetsCommand(program, ctx);
  withJson(sides(program.command('compare')))
    .description('compare a candidate run or campaign with a baseline under a policy; records ComparisonRecorded and RegressionGateEvaluated')
    .action(async (opts: CompareOptions) => {
      const store = await ctx.store();
      const run = await runGate(store, ctx.home(), { baseline: opts.baseline, candidate: opts.candidate, policyFile: opts.policy });
      ctx.print(opts.json ?? false, jsonReport(run), () => humanReport(run));
    });

  withJson(sides(program.command('gate')))
    .description('CI regression and budget gate: exit 1 on a hard breach (or any breach with --strict), 0 otherwise')
    .option('--junit <file>', 'write a JUnit XML report')
    .option('--markdown <file>', 'write a Markdown summary')
    .option('--strict', 'soft breaches fail the gate too')
    .action(async (opts: GateOptions) => {
      // Checked before the gate records anything: a report that cannot be written must not cost an append.
      const [junit, markdown] = openOutputs([
        [opts.junit, '--junit'],
        [opts.markdown, '--markdown'],
      ]);
      let run: GateRun;
      try {
        const store = await ctx.store();
        run = await runGate(store, ctx.home(), {
          baseline: opts.baseline,
          candidate: opts.candidate,
          policyFile: opts.policy,
          strict: opts.strict ?? false,
        });
        junit?.write(gateJunit(run.report));
        markdown?.write(gateMarkdown(run.report));
      } finally {
        junit?.discard();
        markdown?.discard();
      }
      ctx.print(opts.json ?? false, jsonReport(run), () => humanReport(run));
      if (run.report.verdict === 'warn') ctx.note(`runledger: gate passed with ${run.report.softBreaches} soft breach(es); --strict would fail it`);
      const code = gateExitCode(run.report);
      if (code !== 0) throw new ExitCode(code);
    });
}

function humanBudgets(r: BudgetRun): string {
  return [
    `${r.kind} ${r.ref}: ${r.budgets.length} budget check${r.budgets.length === 1 ? '' : 's'} over ${r.runs.length} run${r.runs.length === 1 ? '' : 's'}`,
    ...r.budgets.map((b) => `  ${LABEL[b.verdict]}  ${b.run}/${b.stage} ${b.budget} (${b.severity}): ${b.reason}`),
    `verdict: ${LABEL[r.verdict]} (${r.hardBreaches} hard, ${r.softBreaches} soft breach${r.softBreaches === 1 ? '' : 'es'}, ${r.unproven} unproven)`,
    ...(r.recorded.length ? [`recorded AuditFinding events on ${r.recorded.join(', ')}`] : []),
  ].join('\n');
}

export function registerBudgetsCommand(program: Command, ctx: CliContext): void {
  withJson(program.command('budgets'))
    .description("validate a run's (or every campaign run's) telemetry against its plan's per-stage budgets; records an AuditFinding per breach; exit 1 on a hard breach")
    .argument('<ref>', 'run id or campaign name')
    .option('--policy <file>', 'policy YAML whose budgets.severity applies (default hard)')
    .option('--strict', 'soft breaches and budgets without telemetry fail too')
    .action(async (ref: string, opts: { policy?: string; strict?: boolean; json?: boolean }) => {
      const store = await ctx.store();
      const result = await runBudgets(store, ctx.home(), { ref, policyFile: opts.policy, strict: opts.strict ?? false });
      ctx.print(opts.json ?? false, result, () => humanBudgets(result));
      if (result.verdict === 'fail') throw new ExitCode(1);
    });
}
