// Every projection runledger maintains, by name: what `runledger project rebuild` rebuilds.
import { comparisonGraphProjection } from './comparison-graph.js';
import type { Projection } from './projection.js';
import { runSummaryProjection } from './run-summary.js';

export const projections: readonly Projection<unknown>[] = [
  runSummaryProjection as Projection<unknown>,
  comparisonGraphProjection as Projection<unknown>,
];

export function projectionByName(name: string): Projection<unknown> | undefined {
  return projections.find((p) => p.name === name);
}
