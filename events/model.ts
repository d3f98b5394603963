// model registry events. One stream per named model (`model-<name>`, src/registry/model-rules.ts):
// versions registered from verified runs, and every alias set, moved or deleted, with its reason.
// Who and when are the envelope's metadata.actor and metadata.recordedAt.
import { z } from 'zod';
import { defineEvent, type EventDefinition } from './registry.js';
import { Identifier } from './plan.js';
import { Metrics } from './training.js';

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

export const ModelVersionRegisteredData = z
  .object({
    model: ModelName,
    /** 1, 2, 3, … dense within the model. */
    version: Version,
    runId: Identifier,
    /** The run's signed model-state checkpoint (a CheckpointWritten event of the run). */
    checkpoint: z
      .object({
        digest: Hex64,
        bytes: z.number().int().positive(),
        epoch: z.number().int().positive(),
        step: z.number().int().nonnegative(),
        signature: Base64,
        publicKey: Base64,
        metrics: Metrics,
      })
      .strict(),
    /** Where that CheckpointWritten event is in the ledger. */
    source: z
      .object({
        stream: z.string().min(1),
        revision: z.number().int().nonnegative(),
        eventId: z.string().min(1),
        index: z.number().int().nonnegative(),
      })
      .strict(),
    /** The signed ledger checkpoint the run replay verified against when the version was registered. */
    verifiedAgainst: z.object({ treeSize: z.number().int().positive(), root: Hex64 }).strict(),
    description: z.string().max(1000).nullable(),
  })
  .strict();
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

export const MODEL_TYPES = ['ModelVersionRegistered', 'ModelAliasSet', 'ModelAliasDeleted'] as const;
export type ModelEventType = (typeof MODEL_TYPES)[number];

export const modelEvents: EventDefinition[] = [
  defineEvent('ModelVersionRegistered', 1, ModelVersionRegisteredData, 'A verified run\'s signed checkpoint became version N of a named model.'),
  defineEvent('ModelAliasSet', 1, ModelAliasSetData, 'A model alias (production, staging, …) was set or moved to a version, with a reason.'),
  defineEvent('ModelAliasDeleted', 1, ModelAliasDeletedData, 'A model alias was deleted, with a reason.'),
];
