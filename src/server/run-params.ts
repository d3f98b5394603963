// A run's params as the runs table and compare view show them. Until user code logs its own (issue 11),
// they are the approved plan's: its `training` section and free-form `config`, flattened to dotted keys.
import type { GovernancePlan } from '../../events/plan.js';

export type ParamValue = string | number | boolean;
export type RunParams = Record<string, ParamValue>;

/** Keys of the training section whose values are digests or wiring, not hyperparameters. */
const SKIPPED = new Set(['dataset.digest']);

/** `training.learningRate` → `learningRate`, `training.model.hidden` → `model.hidden` (`[8,8]`), `config.notes` → `config.notes`. */
export function planParams(plan: GovernancePlan): RunParams {
  const out: RunParams = {};
  flattenInto(out, '', (plan.training ?? {}) as Record<string, unknown>);
  flattenInto(out, 'config.', plan.config);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function flattenInto(out: RunParams, prefix: string, value: Record<string, unknown>): void {
  for (const [key, v] of Object.entries(value)) {
    const name = `${prefix}${key}`;
    if (SKIPPED.has(name) || v === null || v === undefined) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[name] = v;
    else if (Array.isArray(v)) out[name] = JSON.stringify(v);
    else if (typeof v === 'object') flattenInto(out, `${name}.`, v as Record<string, unknown>);
  }
}
