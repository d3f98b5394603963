// model registry events. One stream per named model (`model-<name>`, src/registry/model-rules.ts):
// versions registered from verified runs, every alias set, moved or deleted, with its reason, and
// the tags and descriptions of the model and its versions (MLflow's registry metadata), each change
// naming the value it replaces.
// Who and when are the envelope's metadata.actor and metadata.recordedAt.
import { z } from 'zod';
import { defineEvent, type EventDefinition } from './registry.js';
import { Identifier } from './plan.js';
import { Metrics } from './training.js';
import { ArtifactPath, MediaType, TagKey, TagValue } from './runs.js';

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters');
const Base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64');

/** Model names: the run-id alphabet, so `model-<name>` is always a valid stream name. */
export const ModelName = Identifier;

/**
 * Alias names: lowercase, e.g. `production`, `staging`, `champion-2`. `latest` and `v<digits>` are
 * reserved (they read as version references), as in MLflow's registry.
 */
export const AliasName = z
  .string()
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .regex(/^[a-z][a-z0-9_-]*$/, 'must start with a lowercase letter and use only a-z, 0-9, "_" and "-"')
  .refine((a) => a !== 'latest' && !/^v\d+$/.test(a), 'is reserved ("latest" and "v<number>" name versions)');

const Version = z.number().int().min(1);
const Reason = z.string().min(1, 'a reason is required').max(1000);

/** Where a registration's evidence is in the ledger: an event of the run, at its leaf. */
const EventLocation = z
  .object({
    stream: z.string().min(1),
    revision: z.number().int().nonnegative(),
    eventId: z.string().min(1),
    index: z.number().int().nonnegative(),
  })
  .strict();

/** A run's signed model-state checkpoint (a CheckpointWritten event of the run), as a registration copies it. */
const RegisteredCheckpoint = z
  .object({
    digest: Hex64,
    bytes: z.number().int().positive(),
    epoch: z.number().int().positive(),
    step: z.number().int().nonnegative(),
    signature: Base64,
    publicKey: Base64,
    metrics: Metrics,
  })
  .strict();

const registrationFields = {
  model: ModelName,
  /** 1, 2, 3, … dense within the model. */
  version: Version,
  runId: Identifier,
  /** The signed ledger checkpoint the run replay verified against when the version was registered. */
  verifiedAgainst: z.object({ treeSize: z.number().int().positive(), root: Hex64 }).strict(),
  description: z.string().max(1000).nullable(),
};

/** Version 1: the version is always a CheckpointWritten of the run. */
export const ModelVersionRegisteredDataV1 = z
  .object({
    ...registrationFields,
    checkpoint: RegisteredCheckpoint,
    /** Where that CheckpointWritten event is in the ledger. */
    source: EventLocation,
  })
  .strict();

/** One file of an artifact version: an ArtifactRecorded event of the run, copied with its worker signature. */
export const RegisteredArtifactFile = z
  .object({
    path: ArtifactPath,
    digest: Hex64,
    bytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    mediaType: MediaType.nullable(),
    signature: Base64,
    publicKey: Base64,
    source: EventLocation,
  })
  .strict();

/**
 * Version 2: the version is either a CheckpointWritten (`checkpoint` and `source`, as in version 1)
 * or the artifacts a run logged under one path (`artifact`: the path and every file under it, each an
 * ArtifactRecorded event of the run) — what an MLflow client registers as `runs:/<run>/<path>`.
 */
export const ModelVersionRegisteredData = z
  .object({
    ...registrationFields,
    checkpoint: RegisteredCheckpoint.nullable(),
    source: EventLocation.nullable(),
    artifact: z
      .object({
        /** The artifact path registered: a file, or a directory prefix of the files below it. */
        path: ArtifactPath,
        files: z.array(RegisteredArtifactFile).min(1).max(10_000),
      })
      .strict()
      .nullable(),
  })
  .strict()
  .refine(
    (d) => (d.checkpoint !== null && d.source !== null && d.artifact === null) || (d.checkpoint === null && d.source === null && d.artifact !== null),
    { message: 'a version is either a checkpoint (checkpoint and source) or an artifact (artifact), not both or neither', path: ['artifact'] },
  );
export type ModelVersionRegisteredData = z.infer<typeof ModelVersionRegisteredData>;

export const ModelAliasSetData = z
  .object({
    model: ModelName,
    alias: AliasName,
    version: Version,
    /** The version the alias pointed at before (null: a new alias). Must be what the history says. */
    previousVersion: Version.nullable(),
    reason: Reason,
  })
  .strict();
export type ModelAliasSetData = z.infer<typeof ModelAliasSetData>;

export const ModelAliasDeletedData = z
  .object({
    model: ModelName,
    alias: AliasName,
    previousVersion: Version,
    reason: Reason,
  })
  .strict();
export type ModelAliasDeletedData = z.infer<typeof ModelAliasDeletedData>;

/** A model's or a version's description (MLflow keeps registry descriptions as free text). */
export const ModelDescription = z.string().max(5000);
/** What a tag or description change is about: the model itself (null) or one of its versions. */
const Target = Version.nullable();

export const ModelTagSetData = z
  .object({
    model: ModelName,
    version: Target,
    key: TagKey,
    value: TagValue,
    /** The value the tag had before (null: a new tag). Must be what the history says. */
    previousValue: TagValue.nullable(),
  })
  .strict();
export type ModelTagSetData = z.infer<typeof ModelTagSetData>;

export const ModelTagDeletedData = z
  .object({
    model: ModelName,
    version: Target,
    key: TagKey,
    previousValue: TagValue,
  })
  .strict();
export type ModelTagDeletedData = z.infer<typeof ModelTagDeletedData>;

export const ModelDescriptionSetData = z
  .object({
    model: ModelName,
    version: Target,
    description: ModelDescription,
    /** The description before (null: none). Must be what the history says. */
    previousDescription: ModelDescription.nullable(),
  })
  .strict();
export type ModelDescriptionSetData = z.infer<typeof ModelDescriptionSetData>;

export const MODEL_TYPES = ['ModelVersionRegistered', 'ModelAliasSet', 'ModelAliasDeleted', 'ModelTagSet', 'ModelTagDeleted', 'ModelDescriptionSet'] as const;
export type ModelEventType = (typeof MODEL_TYPES)[number];

export const modelEvents: EventDefinition[] = [
  defineEvent('ModelVersionRegistered', 1, ModelVersionRegisteredDataV1, 'A verified run\'s signed checkpoint became version N of a named model (superseded by version 2).', (data) => ({ ...data, artifact: null })),
  defineEvent('ModelVersionRegistered', 2, ModelVersionRegisteredData, 'A verified run\'s signed checkpoint, or the artifacts it logged under one path, became version N of a named model.'),
  defineEvent('ModelAliasSet', 1, ModelAliasSetData, 'A model alias (production, staging, …) was set or moved to a version, with a reason.'),
  defineEvent('ModelAliasDeleted', 1, ModelAliasDeletedData, 'A model alias was deleted, with a reason.'),
  defineEvent('ModelTagSet', 1, ModelTagSetData, "A tag of a model (version null) or of one of its versions was set or changed, naming the value it replaces."),
  defineEvent('ModelTagDeleted', 1, ModelTagDeletedData, "A tag of a model or of one of its versions was deleted, naming the value it had; the log keeps it."),
  defineEvent('ModelDescriptionSet', 1, ModelDescriptionSetData, "The description of a model or of one of its versions was set or changed, naming the description it replaces."),
];
