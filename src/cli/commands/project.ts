// project: rebuild read models from the log and prove they match the live ones; show a run's
// summary with provenance and the comparison graph.
import type { Command } from 'commander';
import { catchUp, type CatchUpResult } from '../../../projections/catch-up.js';
import { buildGraph, comparisonGraphProjection, neighbourhood, graphArtifacts, nodeId, type GraphState } from '../../../projections/comparison-graph.js';
import { projectionByName, projections } from '../../../projections/index.js';
import { runReport, runSummaryProjection, type RunReport } from '../../../projections/run-summary.js';
import { writeArtifacts, type WrittenArtifacts } from '../../../projections/snapshots.js';
import { LINK_RELATIONS } from '../../../events/comparison.js';
import { InputError } from '../../errors.js';
import { contentUuid } from '../../gates/evidence.js';
import { fmt } from '../../gates/regression.js';
import { ExitCode, withJson, type CliContext } from '../context.js';
import { count } from '../style.js';

interface RebuiltProjection {
  name: string;
  version: number;
  events: number;
  position: number;
  digest: string;
  /** The incrementally maintained (live) projection, caught up to the same position. */
  live: { digest: string; resumedFrom: number };
  matchesLive: boolean;
}

export function registerProjectCommands(program: Command, ctx: CliContext): void {
  const project = program.command('project').description('projections (read models) of the log: rebuild, run summaries, comparison graph, links');

  withJson(project.command('rebuild'))
    .description('rebuild projections from the whole log, compare their digests with the live ones, rewrite artifacts')
    .argument('[name]', `one projection: ${projections.map((p) => p.name).join(', ')}`)
    .action(async (name: string | undefined, opts: { json?: boolean }) => {
      const selected = name === undefined ? projections : [projectionByName(name) ?? unknownProjection(name)];
      const store = await ctx.store();
      const home = ctx.home();
      const results: RebuiltProjection[] = [];
      let artifacts: WrittenArtifacts | null = null;
      for (const projection of selected) {
        const live = await catchUp(store, home, projection);
        const rebuilt: CatchUpResult<unknown> = await catchUp(store, home, projection, { rebuild: true });
        results.push({
          name: projection.name,
          version: projection.version,
          events: rebuilt.events,
          position: rebuilt.position,
          digest: rebuilt.digest,
          live: { digest: live.digest, resumedFrom: live.resumedFrom },
          matchesLive: live.digest === rebuilt.digest,
        });
        if (projection === comparisonGraphProjection) artifacts = writeArtifacts(home, graphArtifacts(rebuilt.state as GraphState));
      }
      const mismatched = results.filter((r) => !r.matchesLive);
      ctx.print(opts.json ?? false, { projections: results, artifacts }, () =>
        [
          ...results.map((r) => `${r.matchesLive ? ctx.style.status('ok', 'ok      ') : ctx.style.status('fail', 'MISMATCH')} ${r.name} v${r.version}: ${count(r.events, 'event')} to position ${r.position}, digest ${r.digest}${r.matchesLive ? '' : ` (live ${r.live.digest})`}`),
          ...(artifacts ? [`artifacts: ${count(artifacts.files, 'file')} under runs/, ${artifacts.unchanged} byte-identical to the previous build, digest ${artifacts.digest}`] : []),
        ].join('\n'),
      );
      if (mismatched.length > 0) {
        ctx.note(`runledger: projection ${mismatched[0]!.name} rebuilt to ${mismatched[0]!.digest}, but the live state was ${mismatched[0]!.live.digest}; the snapshot was replaced by the rebuild`);
        throw new ExitCode(1);
      }
    });

  withJson(project.command('summary'))
    .description('a run summary with provenance: status, stages vs plan, final metrics, checkpoints, plan hashes, backend, seeds, comparisons')
    .argument('<run>', 'run id')
    .action(async (runId: string, opts: { json?: boolean }) => {
      const store = await ctx.store();
      const { state } = await catchUp(store, ctx.home(), runSummaryProjection);
      const report = runReport(state, runId);
      if (!report) throw new InputError(`no run "${runId}" in the ledger`, { field: 'run' });
      ctx.print(opts.json ?? false, report, () => humanSummary(report));
    });

  withJson(project.command('link'))
    .description('record a typed relation the comparison graph draws (RunLinked), e.g. "project link run:r2 replay-of run:r1"')
    .argument('<from>', 'run:<id>, campaign:<name> or a run id')
    .argument('<relation>', LINK_RELATIONS.join(' | '))
    .argument('<to>', 'run:<id>, campaign:<name> or a run id')
    .option('--note <text>', 'why the relation holds', '')
    .action(async (fromText: string, relation: string, toText: string, opts: { note: string; json?: boolean }) => {
      if (!(LINK_RELATIONS as readonly string[]).includes(relation)) {
        throw new InputError(`relation "${relation}" must be one of ${LINK_RELATIONS.join(', ')}`, { field: 'relation' });
      }
      const data = { relation, from: nodeRef(fromText, 'from'), to: nodeRef(toText, 'to'), note: opts.note };
      const stream = `links-${data.from.kind}-${data.from.id}`;
      const store = await ctx.store();
      // A link must join things the ledger has: a typo would otherwise draw an edge to nothing.
      const known = (await catchUp(store, ctx.home(), comparisonGraphProjection)).state;
      for (const [field, ref, text] of [['from', data.from, fromText], ['to', data.to, toText]] as const) {
        if (!(ref.kind === 'run' ? known.runs : known.campaigns).has(ref.id)) {
          throw new InputError(`${field} "${text}": no ${ref.kind} "${ref.id}" in the ledger; nothing was recorded`, { field });
        }
      }
      // Content-derived id: recording the same link twice is an idempotent retry.
      const result = await store.append(stream, [{ id: contentUuid('RunLinked', data), type: 'RunLinked', data }]);
      const { state } = await catchUp(store, ctx.home(), comparisonGraphProjection);
      writeArtifacts(ctx.home(), graphArtifacts(state));
      ctx.print(opts.json ?? false, { stream, duplicate: result.duplicate, ...data }, () =>
        `${result.duplicate ? 'Already recorded' : 'Recorded'}: ${data.from.kind}:${data.from.id} ${relation} ${data.to.kind}:${data.to.id} (stream ${stream})`,
      );
    });

  withJson(project.command('graph'))
    .description('the experiment comparison graph (runs, campaigns, typed edges with metric deltas), or the neighbourhood of one run')
    .argument('[run]', 'only the neighbourhood of this run (what runs/<run>/graph.json holds)')
    .action(async (runId: string | undefined, opts: { json?: boolean }) => {
      const store = await ctx.store();
      const { state } = await catchUp(store, ctx.home(), comparisonGraphProjection);
      writeArtifacts(ctx.home(), graphArtifacts(state));
      let graph = buildGraph(state);
      if (runId !== undefined) {
        if (!state.runs.has(runId)) throw new InputError(`no run "${runId}" in the ledger`, { field: 'run' });
        graph = neighbourhood(graph, nodeId('run', runId));
      }
      ctx.print(opts.json ?? false, graph, () =>
        [
          `${count(graph.nodes.length, 'node')}, ${count(graph.edges.length, 'edge')}`,
          ...graph.edges.map((e) => {
            const d = Object.entries(e.deltas).map(([m, v]) => `${m} ${v.delta >= 0 ? '+' : ''}${fmt(v.delta)}`);
            return `  ${e.from} ${e.type} ${e.to}${e.verdict ? ` [${e.verdict}]` : ''}${d.length ? `  ${d.join(', ')}` : ''}`;
          }),
        ].join('\n'),
      );
    });
}

/** `run:<id>`, `campaign:<name>`, or a bare run id. */
function nodeRef(text: string, field: string): { kind: 'run' | 'campaign'; id: string } {
  const match = /^(?:(run|campaign):)?(.+)$/.exec(text)!;
  const id = match[2]!;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)) throw new InputError(`${field} "${text}" is not a run or campaign name`, { field });
  return { kind: (match[1] as 'run' | 'campaign' | undefined) ?? 'run', id };
}

function unknownProjection(name: string): never {
  throw new InputError(`unknown projection "${name}" (known: ${projections.map((p) => p.name).join(', ')})`, { field: 'name' });
}

function humanSummary(r: RunReport): string {
  const metrics = r.finalMetrics ? Object.entries(r.finalMetrics).map(([k, v]) => `${k}=${fmt(v)}`).join(' ') : '(none)';
  return [
    `run ${r.runId}: ${r.status}${r.planName ? ` (plan ${r.planName})` : ''}`,
    `  governance plan ${r.governancePlanHash ?? '-'}`,
    `  execution plan  ${r.executionPlanHash ?? '-'}`,
    `  summary digest  ${r.summaryDigest}`,
    `  stages ${r.stages.completed}/${r.stages.planned} completed${r.stages.failed ? `, ${r.stages.failed} failed` : ''}: ${r.stages.list.map((s) => `${s.id}=${s.status}`).join(' ')}`,
    `  backend ${r.backend ? `${r.backend.name} tfjs ${r.backend.tfjsVersion} threads ${r.backend.threads ?? '-'}` : '-'}; seed ${r.trainingSeed ?? '-'}; seeds ${JSON.stringify(r.seeds)}`,
    `  final metrics ${metrics}`,
    `  checkpoints ${r.checkpoints.length}${r.checkpoints.length ? ` (last ${r.checkpoints.at(-1)!.digest.slice(0, 16)}… at epoch ${r.checkpoints.at(-1)!.epoch})` : ''}`,
    ...(r.campaigns.length ? [`  campaigns ${r.campaigns.join(', ')}`] : []),
    ...r.comparisons.map((c) => `  ${c.role} in comparison ${c.comparisonId}: baseline ${c.baselineRuns.join(',')} (${c.aggregation}), verdict ${c.verdict ?? '-'}`),
    `  findings hard ${r.findings.hard}, soft ${r.findings.soft}, info ${r.findings.info}`,
  ].join('\n');
}
