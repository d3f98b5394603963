// Plan hashes: SHA-256 over the RFC 8785 (JCS) form of the *normalized* plan — the value after
// parsing and defaults — so YAML formatting, comments, key order and JSON-vs-YAML do not matter.
import { canonicalize } from '../integrity/canonical.js';
import type { ExecutionPlan, GovernancePlan, PlanFile } from '../../events/plan.js';
import { sha256Hex } from '../integrity/hasher.js';

// The schemas are declared once, in the event catalog; governance code imports them from here too.
export { DatasetDigest, ExecutionPlan, GovernancePlan, Identifier, JsonObjectValue, PlanFile, Stage, StageBudget } from '../../events/plan.js';
export type { PlanFileInput } from '../../events/plan.js';

/** A parsed, normalized plan with both hashes. */
export interface Plan {
  governance: GovernancePlan;
  execution: ExecutionPlan;
  governancePlanHash: string;
  executionPlanHash: string;
}

/** SHA-256 (hex) of the JCS of a normalized plan body. */
export function planHash(body: GovernancePlan | ExecutionPlan): string {
  return sha256Hex(canonicalize(body));
}

/** Hashes a normalized plan file. */
export function hashPlan(file: PlanFile): Plan {
  return {
    governance: file.governance,
    execution: file.execution,
    governancePlanHash: planHash(file.governance),
    executionPlanHash: planHash(file.execution),
  };
}
