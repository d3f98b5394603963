// Run-data events: what user code logs into a run through the run API (src/runs/), the HTTP and
// MLflow doors and the built-in trainer — params (write-once), metrics (any documented name, by step
// and time), tags (change; history kept), artifacts (content-addressed). Recorded on the run's
// stream while the stage they name is running, each signed by a worker key the approval trusts.
import { z } from 'zod';
import { defineEvent, type EventDefinition } from './registry.js';
import { Identifier } from './plan.js';
import { WorkerSigned } from './training.js';

import { MetricName, NAME_PATTERN, NAME_RULE } from './names.js';

/** Metric, param and tag names (MLflow-compatible subset): docs/api.md "Names". */
export { MetricName, NAME_PATTERN };
export const ParamKey = z.string().regex(NAME_PATTERN, NAME_RULE);
export const TagKey = z.string().regex(NAME_PATTERN, NAME_RULE);

/** Largest param and tag value (MLflow's own limits are 6000 and 8000 characters). */
export const MAX_VALUE_LENGTH = 8000;
/** Most entries one event carries (params, tags, metric points). */
export const MAX_ENTRIES = 10_000;

export const ParamValue = z.union([z.string().max(MAX_VALUE_LENGTH), z.number(), z.boolean()]);
export type ParamValue = z.infer<typeof ParamValue>;
export const TagValue = z.string().max(MAX_VALUE_LENGTH);

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters');
/** Largest timestamp JavaScript dates represent (ECMA-262 §21.4.1.1). */
export const MAX_TIME_MS = 8.64e15;

const checkEntries = (what: string) => (record: Record<string, unknown>, ctx: z.RefinementCtx) => {
  const n = Object.keys(record).length;
  if (n < 1 || n > MAX_ENTRIES) ctx.addIssue({ code: 'custom', message: `${what} must hold 1 to ${MAX_ENTRIES} entries` });
};

export const MetricPoint = z
  .object({
    key: MetricName,
    /** A finite number (JSON cannot carry NaN or infinities, and the schema refuses them too). */
    value: z.number(),
    /** Non-negative integer; steps need not increase (MLflow semantics). */
    step: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    /** Milliseconds since the Unix epoch, as the logger measured it. */
    timestamp: z.number().int().min(0).max(MAX_TIME_MS),
  })
  .strict();
export type MetricPoint = z.infer<typeof MetricPoint>;

const RunAndStage = { runId: Identifier, stageId: Identifier };

export const ParamsLogged = z
  .object({ ...RunAndStage, params: z.record(ParamKey, ParamValue).superRefine(checkEntries('params')), ...WorkerSigned })
  .strict();
export type ParamsLogged = z.infer<typeof ParamsLogged>;

export const MetricsLogged = z
  .object({ ...RunAndStage, metrics: z.array(MetricPoint).min(1).max(MAX_ENTRIES), ...WorkerSigned })
  .strict();
export type MetricsLogged = z.infer<typeof MetricsLogged>;

export const TagsSet = z
  .object({ ...RunAndStage, tags: z.record(TagKey, TagValue).superRefine(checkEntries('tags')), ...WorkerSigned })
  .strict();
export type TagsSet = z.infer<typeof TagsSet>;

export const TagDeleted = z.object({ ...RunAndStage, key: TagKey, ...WorkerSigned }).strict();
export type TagDeleted = z.infer<typeof TagDeleted>;

/**
 * Artifact paths: relative, `/`-separated, no empty, `.` or `..` segment, no backslash or control
 * character — a name inside the run, never a place on anyone's disk.
 */
export const ArtifactPath = z
  .string()
  .min(1)
  .max(1000)
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  .regex(/^(?!\/)(?!.*\/\/)(?!.*\/$)[^\\\u0000-\u001f\u007f]+$/, 'must be a relative "/"-separated path without empty segments, backslashes or control characters')
  .refine((p) => p.split('/').every((s) => s !== '.' && s !== '..'), 'must not contain "." or ".." segments');

export const MediaType = z
  .string()
  .max(255)
  .regex(/^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$/, 'must be a media type such as "text/plain"');

export const ArtifactRecorded = z
  .object({
    ...RunAndStage,
    path: ArtifactPath,
    /** SHA-256 (hex) of the bytes; the file is `artifacts/<digest>` under the recording home. */
    digest: Sha256Hex,
    bytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    mediaType: MediaType.nullable(),
    ...WorkerSigned,
  })
  .strict();
export type ArtifactRecorded = z.infer<typeof ArtifactRecorded>;

/** The run-data types, all worker-signed from their first version. */
export const RUN_DATA_TYPES = ['ParamsLogged', 'MetricsLogged', 'TagsSet', 'TagDeleted', 'ArtifactRecorded'] as const;
export type RunDataType = (typeof RUN_DATA_TYPES)[number];

export const runDataEvents: EventDefinition[] = [
  defineEvent('ParamsLogged', 1, ParamsLogged, 'Params of a run (string, number or boolean values), write-once: a key is never logged again with another value; signed by a trusted worker key.'),
  defineEvent('MetricsLogged', 1, MetricsLogged, 'Metric points of a run: any name matching the documented pattern, a finite value, a step and a timestamp; signed by a trusted worker key.'),
  defineEvent('TagsSet', 1, TagsSet, 'Tags of a run set or changed (the log keeps every earlier value); signed by a trusted worker key.'),
  defineEvent('TagDeleted', 1, TagDeleted, 'A tag of a run deleted: recorded as an event, never erased from the log; signed by a trusted worker key.'),
  defineEvent('ArtifactRecorded', 1, ArtifactRecorded, 'A content-addressed artifact of a run: its path in the run, SHA-256 digest, size and media type; signed by a trusted worker key.'),
];
