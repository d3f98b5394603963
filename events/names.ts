// Names user code gives metrics, params and tags (docs/api.md "Names"): the MLflow-compatible
// subset, shared by the run-data events and the plans that declare their metrics.
import { z } from 'zod';

export const NAME_PATTERN = /^(?!__proto__$)[A-Za-z0-9_./-]{1,250}$/;
export const NAME_RULE = 'must be 1 to 250 letters, digits, "_", ".", "/" or "-" (and not "__proto__")';
export const MetricName = z.string().regex(NAME_PATTERN, NAME_RULE);
