// The model registry's state and rules: a pure reducer over one model's stream. The same rule check
// refuses a write (src/registry/model-registry.ts) and re-checks every event when the history is read
// (model-history.ts), so a store written by other means cannot make `model history` say what the
// rules forbid: versions are 1, 2, 3, …; an alias names an existing version; a move or delete names
// the version the alias held; a tag or description change names an existing version (or the model)
// and the value it replaces; only model events on a model stream; time never runs backwards.
import type { Envelope } from '../../events/envelope.js';
import {
  AliasName,
  MODEL_TYPES,
  ModelAliasDeletedData,
  ModelAliasSetData,
  ModelDescriptionSetData,
  ModelName,
  ModelTagDeletedData,
  ModelTagSetData,
  ModelVersionRegisteredData,
  ModelVersionRegisteredDataV1,
} from '../../events/model.js';
import { InputError } from '../errors.js';

const PREFIX = 'model-';

/** Each model is one stream. */
export function modelStream(model: string): string {
  return `${PREFIX}${model}`;
}

export function isModelStream(stream: string): boolean {
  return stream.startsWith(PREFIX);
}

/** Rejects model names that cannot name a stream. */
export function checkModelName(model: string): string {
  const parsed = ModelName.safeParse(model);
  if (!parsed.success) throw new InputError(`model name "${model}" ${parsed.error.issues[0]!.message}`, { field: 'model' });
  return model;
}

export function checkAliasName(alias: string): string {
  const parsed = AliasName.safeParse(alias);
  if (!parsed.success) throw new InputError(`alias "${alias}" ${parsed.error.issues[0]!.message}`, { field: 'alias' });
  return alias;
}

export interface ModelState {
  model: string;
  /** versions[k] is version k + 1. */
  versions: ModelVersionRegisteredData[];
  /** alias → version. */
  aliases: Record<string, number>;
  /** The model's own tags (key → value). */
  tags: Record<string, string>;
  /** Each version's tags, by version number. */
  versionTags: Record<number, Record<string, string>>;
  /** The model's description; null when none was set. */
  description: string | null;
  /** Each version's description now (its registration's, or the last ModelDescriptionSet). */
  versionDescriptions: Record<number, string | null>;
  /** Revision of the last applied event, -1 before any. */
  revision: number;
  lastRecordedAt: string | null;
}

export function initialModelState(model: string): ModelState {
  return { model, versions: [], aliases: {}, tags: {}, versionTags: {}, description: null, versionDescriptions: {}, revision: -1, lastRecordedAt: null };
}

/** The tags of the model (version null) or of one version. */
export function tagsOf(state: ModelState, version: number | null): Record<string, string> {
  return version === null ? state.tags : (state.versionTags[version] ?? {});
}

/** The description of the model (version null) or of one version. */
export function descriptionOf(state: ModelState, version: number | null): string | null {
  return version === null ? state.description : (state.versionDescriptions[version] ?? null);
}

/** A tag's value, own keys only (a key such as "constructor" is a tag, not an Object property). */
const tagValue = (tags: Record<string, string>, key: string): string | null => (Object.hasOwn(tags, key) ? tags[key]! : null);

/** The part of an envelope the rules read (no schemaVersion: the latest). */
export type ModelEvent = Pick<Envelope, 'type' | 'data' | 'stream'> & { schemaVersion?: number; metadata: Pick<Envelope['metadata'], 'recordedAt'> };

/** A registration's data at the latest schema version (version 1 names a checkpoint: no artifact). */
export function registrationData(event: Pick<ModelEvent, 'data' | 'schemaVersion'>): ModelVersionRegisteredData {
  const data = event.data as Record<string, unknown>;
  return (event.schemaVersion === 1 ? { ...data, artifact: null } : data) as ModelVersionRegisteredData;
}

function schemaOf(event: ModelEvent): { safeParse(data: unknown): { success: true; data: unknown } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } } {
  switch (event.type) {
    case 'ModelVersionRegistered':
      return event.schemaVersion === 1 ? ModelVersionRegisteredDataV1 : ModelVersionRegisteredData;
    case 'ModelAliasSet':
      return ModelAliasSetData;
    case 'ModelTagSet':
      return ModelTagSetData;
    case 'ModelTagDeleted':
      return ModelTagDeletedData;
    case 'ModelDescriptionSet':
      return ModelDescriptionSetData;
    default:
      return ModelAliasDeletedData;
  }
}

export interface ModelViolation {
  message: string;
  expected: string;
  actual: string;
}

const v = (message: string, expected: string, actual: string): ModelViolation => ({ message, expected, actual });

/** Why `event` may not follow `state`, or null when the rules allow it. Data is schema-checked here too. */
export function modelViolation(state: ModelState, event: ModelEvent): ModelViolation | null {
  const stream = modelStream(state.model);
  if (event.stream !== stream) return v(`the event belongs to stream "${event.stream}", not "${stream}"`, stream, event.stream);
  if (!(MODEL_TYPES as readonly string[]).includes(event.type)) {
    return v(`a model stream holds only ${MODEL_TYPES.join(', ')} events, not ${event.type}`, MODEL_TYPES.join(' | '), event.type);
  }
  if (state.lastRecordedAt !== null && event.metadata.recordedAt < state.lastRecordedAt) {
    return v(`it is recorded at ${event.metadata.recordedAt}, before the event preceding it (${state.lastRecordedAt})`, `at or after ${state.lastRecordedAt}`, event.metadata.recordedAt);
  }
  const parsed = schemaOf(event).safeParse(event.data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return v(`field data.${issue.path.map(String).join('.')}: ${issue.message}`, 'data valid for its type', 'invalid data');
  }
  const data = parsed.data as { model: string };
  if (data.model !== state.model) return v(`it names model "${data.model}" on the stream of model "${state.model}"`, state.model, data.model);
  const versions = state.versions.length;
  switch (event.type) {
    case 'ModelVersionRegistered': {
      const d = parsed.data as { version: number };
      if (d.version !== versions + 1) return v(`it registers version ${d.version}, but the next version of model ${state.model} is ${versions + 1} (versions are dense)`, String(versions + 1), String(d.version));
      return null;
    }
    case 'ModelAliasSet': {
      const d = parsed.data as ModelAliasSetData;
      if (d.version > versions) return v(`alias "${d.alias}" is set to version ${d.version}, but model ${state.model} has ${versions === 0 ? 'no versions' : `only versions 1..${versions}`}`, `a version in 1..${versions}`, String(d.version));
      const current = state.aliases[d.alias] ?? null;
      if (d.previousVersion !== current) {
        return v(`it says alias "${d.alias}" pointed at ${describe(d.previousVersion)}, but it pointed at ${describe(current)}`, describe(current), describe(d.previousVersion));
      }
      if (current === d.version) return v(`alias "${d.alias}" already points at version ${d.version}`, `a version other than ${d.version}`, String(d.version));
      return null;
    }
    case 'ModelTagSet':
    case 'ModelTagDeleted':
    case 'ModelDescriptionSet': {
      const d = parsed.data as { version: number | null };
      if (d.version !== null && d.version > versions) return v(`it changes version ${d.version}, but model ${state.model} has ${versions === 0 ? 'no versions' : `only versions 1..${versions}`}`, `a version in 1..${versions} or null (the model)`, String(d.version));
      const what = d.version === null ? `model ${state.model}` : `version ${d.version} of model ${state.model}`;
      if (event.type === 'ModelDescriptionSet') {
        const e = parsed.data as ModelDescriptionSetData;
        const current = descriptionOf(state, e.version);
        if (e.previousDescription !== current) return v(`it says the description of ${what} was ${quoted(e.previousDescription)}, but it was ${quoted(current)}`, quoted(current), quoted(e.previousDescription));
        if (current === e.description) return v(`the description of ${what} is already ${quoted(current)}`, 'another description', quoted(e.description));
        return null;
      }
      const e = parsed.data as ModelTagSetData | ModelTagDeletedData;
      const current = tagValue(tagsOf(state, e.version), e.key);
      if (event.type === 'ModelTagDeleted' && current === null) return v(`it deletes tag "${e.key}", which ${what} does not have`, 'an existing tag', e.key);
      if (e.previousValue !== current) return v(`it says tag "${e.key}" of ${what} was ${quoted(e.previousValue)}, but it was ${quoted(current)}`, quoted(current), quoted(e.previousValue));
      if (event.type === 'ModelTagSet' && current === (e as ModelTagSetData).value) return v(`tag "${e.key}" of ${what} is already ${quoted(current)}`, 'another value', quoted(current));
      return null;
    }
    default: {
      const d = parsed.data as ModelAliasDeletedData;
      const current = state.aliases[d.alias];
      if (current === undefined) return v(`it deletes alias "${d.alias}", which model ${state.model} does not have`, 'an existing alias', d.alias);
      if (d.previousVersion !== current) return v(`it says alias "${d.alias}" pointed at version ${d.previousVersion}, but it pointed at version ${current}`, `version ${current}`, `version ${d.previousVersion}`);
      return null;
    }
  }
}

function quoted(text: string | null): string {
  if (text === null) return 'unset';
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}

function describe(version: number | null): string {
  return version === null ? 'no version (a new alias)' : `version ${version}`;
}

/** Applies an event the rules allowed. */
export function evolveModel(state: ModelState, event: ModelEvent): ModelState {
  const next: ModelState = { ...state, revision: state.revision + 1, lastRecordedAt: event.metadata.recordedAt };
  switch (event.type) {
    case 'ModelVersionRegistered': {
      const d = registrationData(event);
      next.versions = [...state.versions, d];
      next.versionDescriptions = { ...state.versionDescriptions, [d.version]: d.description };
      break;
    }
    case 'ModelTagSet':
    case 'ModelTagDeleted': {
      const d = event.data as ModelTagSetData | ModelTagDeletedData;
      const tags = { ...tagsOf(state, d.version) };
      if (event.type === 'ModelTagSet') tags[d.key] = (d as ModelTagSetData).value;
      else delete tags[d.key];
      if (d.version === null) next.tags = tags;
      else next.versionTags = { ...state.versionTags, [d.version]: tags };
      break;
    }
    case 'ModelDescriptionSet': {
      const d = event.data as ModelDescriptionSetData;
      if (d.version === null) next.description = d.description;
      else next.versionDescriptions = { ...state.versionDescriptions, [d.version]: d.description };
      break;
    }
    case 'ModelAliasSet': {
      const d = event.data as ModelAliasSetData;
      next.aliases = { ...state.aliases, [d.alias]: d.version };
      break;
    }
    case 'ModelAliasDeleted': {
      const d = event.data as ModelAliasDeletedData;
      const { [d.alias]: _removed, ...rest } = state.aliases;
      next.aliases = rest;
      break;
    }
  }
  return next;
}
