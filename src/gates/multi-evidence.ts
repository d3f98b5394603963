// A multi-candidate gate as evidence: MultiComparisonRecorded (every number), MultiGateEvaluated
// (every verdict), then one AuditFinding per breach, appended atomically on `comparison-<id>`.
import type { ProposedEvent } from '../../events/envelope.js';
import type { MultiComparisonRecordedData, MultiGateEvaluatedData } from '../../events/comparison.js';
import type { AuditFindingData } from '../../events/governance.js';
import { canonicalize } from '../integrity/canonical.js';
import { sha256Hex } from '../integrity/hasher.js';
import { budgetFinding, evidenceBatch, ruleVerdict, verdictHeader } from './evidence.js';
import type { MultiGateReport } from './multi.js';
import { withCandidatesSettings, type Policy } from './policy.js';

export function multiGateEvents(report: MultiGateReport, policy: Policy): ProposedEvent[] {
  const comparison: MultiComparisonRecordedData = {
    comparisonId: report.comparisonId,
    baseline: report.baseline,
    candidates: report.candidates,
    policyHash: report.policyHash,
    policy: JSON.parse(canonicalize(withCandidatesSettings(policy))) as Record<string, unknown>,
    aggregation: report.aggregation,
    settings: report.settings,
    family: report.family,
    metrics: report.metrics,
    hypotheses: report.hypotheses,
  };
  const evaluated: MultiGateEvaluatedData = {
    ...verdictHeader(report),
    candidates: report.results.map((c) => ({
      ref: c.ref,
      verdict: c.verdict,
      hardBreaches: c.hardBreaches,
      softBreaches: c.softBreaches,
      rules: c.rules.map((r) => ({ ...ruleVerdict(r), delta: r.delta, relativeDelta: r.relativeDelta })),
    })),
    budgets: report.budgets.map((b) => ({ ...b })),
  };
  const findings: AuditFindingData[] = [
    ...report.results.flatMap((c) =>
      c.rules
        .filter((r) => r.breached)
        .map((r) => {
          const h = r.hypothesis === null ? null : report.hypotheses[r.hypothesis]!;
          return {
            runId: c.ref,
            severity: r.severity,
            check: 'gate.regression',
            message: `${r.metric}: ${r.reason}`,
            subject: `metric:${r.metric}`,
            details: {
              comparisonId: report.comparisonId,
              baseline: report.baseline.ref,
              delta: r.delta,
              relativeDelta: r.relativeDelta,
              test: h && { pValue: h.pValue, adjustedPValue: h.adjustedPValue, significant: h.significant, powerless: h.powerless, familySize: report.family.size },
            },
          };
        }),
    ),
    ...report.budgets.filter((b) => b.breached).map((b) => budgetFinding(b, report.comparisonId)),
  ];
  return evidenceBatch(sha256Hex(canonicalize({ comparison, evaluated, findings })), report.comparisonId, [
    ['MultiComparisonRecorded', comparison],
    ['MultiGateEvaluated', evaluated],
    ...findings.map((f): [string, object] => ['AuditFinding', f]),
  ]);
}
