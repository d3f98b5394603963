// Family-wise error control over every hypothesis a multi-candidate comparison tests (each tested
// rule × each compared pair): Holm's step-down procedure, valid under any dependence between tests.

/**
 * Holm (1979) adjusted p-values, in input order: with p-values sorted ascending p_(1) <= … <= p_(m),
 * adj_(i) = max over j <= i of min(1, (m - j + 1) p_(j)). Rejecting every hypothesis whose adjusted
 * p-value is <= α keeps the family-wise error rate at most α (statsmodels multipletests "holm").
 */
export function holmAdjust(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const adjusted = new Array<number>(m);
  let running = 0;
  order.forEach(([p, i], rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    adjusted[i] = running;
  });
  return adjusted;
}
