// One registry maps (type, schemaVersion) to its zod schema. Old versions are kept readable by
// upcasters that lift data one version at a time; stored bytes are never rewritten.
import { z } from 'zod';
import { InputError } from '../src/errors.js';
import { canonicalize, CanonicalizationError } from '../src/integrity/canonical.js';
import { describeIssue } from '../src/input/limits.js';

export interface EventDefinition {
  type: string;
  schemaVersion: number;
  schema: z.ZodType<Record<string, unknown>>;
  /** Lifts data of this version to `schemaVersion + 1`. */
  upcast?: (data: Record<string, unknown>) => Record<string, unknown>;
  description: string;
}

export function defineEvent<S extends z.ZodType<Record<string, unknown>>>(
  type: string,
  schemaVersion: number,
  schema: S,
  description: string,
  upcast?: (data: Record<string, unknown>) => Record<string, unknown>,
): EventDefinition & { schema: S } {
  return { type, schemaVersion, schema, description, upcast };
}

/** Caller-defined types: `custom.<name>`, any schemaVersion, data must be a JSON object. */
export const CUSTOM_PREFIX = 'custom.';

export function isCustomType(type: string): boolean {
  return type.startsWith(CUSTOM_PREFIX) && type.length > CUSTOM_PREFIX.length;
}

export interface ValidateOptions {
  /**
   * Also require `data` to be in normalized form already: parsing it again changes nothing (every
   * default written out, nothing to strip or transform). Verifiers use this on stored events, so
   * data a runledger writer would have normalized cannot be slipped into the log by other means.
   */
  normalized?: boolean;
}

export interface Validated {
  schemaVersion: number;
  /** The data as the schema parsed it (defaults filled in): what a store records. */
  data: Record<string, unknown>;
}

export class EventRegistry {
  private readonly byKey = new Map<string, EventDefinition>();
  private readonly latest = new Map<string, number>();

  /**
   * `dataChecks`: hand-written checks by `type@schemaVersion` that answer, with the schema's output,
   * for data the schema accepts, and with undefined for anything they do not know (then the schema decides).
   */
  constructor(
    definitions: readonly EventDefinition[],
    private readonly dataChecks: Readonly<Record<string, (data: unknown) => Record<string, unknown> | undefined>> = {},
  ) {
    for (const def of definitions) {
      const key = `${def.type}@${def.schemaVersion}`;
      if (this.byKey.has(key)) throw new Error(`event ${key} is defined twice`);
      if (isCustomType(def.type)) throw new Error(`event ${def.type} uses the reserved custom. prefix`);
      this.byKey.set(key, def);
      this.latest.set(def.type, Math.max(this.latest.get(def.type) ?? 0, def.schemaVersion));
    }
  }

  definitions(): EventDefinition[] {
    return [...this.byKey.values()].sort((a, b) => a.type.localeCompare(b.type) || a.schemaVersion - b.schemaVersion);
  }

  latestVersion(type: string): number | undefined {
    return isCustomType(type) ? undefined : this.latest.get(type);
  }

  has(type: string): boolean {
    return isCustomType(type) || this.latest.has(type);
  }

  /**
   * Checks `data` against the schema of (type, schemaVersion) and returns the version to record
   * with the parsed data. Unknown types, schema violations and (with `normalized`) data that is
   * not normalized are InputErrors naming the field.
   */
  validate(type: string, data: unknown, schemaVersion?: number, where = '', options: ValidateOptions = {}): Validated {
    const at = where ? `${where}: ` : '';
    if (isCustomType(type)) {
      if (data === null || typeof data !== 'object' || Array.isArray(data)) {
        throw new InputError(`${at}data of a ${CUSTOM_PREFIX}* event must be a JSON object`, { field: 'data' });
      }
      return { schemaVersion: schemaVersion ?? 1, data: data as Record<string, unknown> };
    }
    const version = schemaVersion ?? this.latest.get(type);
    if (version === undefined) {
      throw new InputError(
        `${at}unknown event type "${type}" (caller-defined types must start with "${CUSTOM_PREFIX}")`,
        { field: 'type' },
      );
    }
    const key = `${type}@${version}`;
    const def = this.byKey.get(key);
    if (!def) throw new InputError(`${at}event type "${type}" has no schema version ${version}`, { field: 'schemaVersion' });
    // The hand-written check answers for the data it knows, with the schema's output; zod decides (and words) the rest.
    const checked = Object.prototype.hasOwnProperty.call(this.dataChecks, key) ? this.dataChecks[key]!(data) : undefined;
    const parsed = checked !== undefined ? { success: true as const, data: checked } : def.schema.safeParse(data);
    if (!parsed.success) {
      const { field, message } = describeIssue(parsed.error.issues[0]!, 'data');
      throw new InputError(`${at}${type} field ${field}: ${message}`, { field });
    }
    if (options.normalized) {
      const field = unnormalizedField(data as Record<string, unknown>, parsed.data);
      if (field !== undefined) {
        throw new InputError(`${at}${type} field ${field} is not in normalized form (parsing the data again changes it), so no runledger writer recorded it`, { field });
      }
    }
    return { schemaVersion: version, data: parsed.data };
  }

  /** Data lifted to the latest schema version of its type (custom types pass through). */
  upcast(type: string, schemaVersion: number, data: Record<string, unknown>): Record<string, unknown> {
    const latest = this.latest.get(type);
    if (latest === undefined) return data;
    let current = data;
    for (let v = schemaVersion; v < latest; v++) {
      const def = this.byKey.get(`${type}@${v}`);
      if (!def?.upcast) throw new Error(`no upcaster from ${type}@${v} to @${v + 1}`);
      current = def.upcast(current);
    }
    return current;
  }
}

/** The first top-level member (as `data.<name>`) whose canonical form parsing changed, or undefined. */
function unnormalizedField(stored: Record<string, unknown>, parsed: Record<string, unknown>): string | undefined {
  const text = (value: unknown): string | undefined => {
    try {
      return canonicalize(value);
    } catch (err) {
      if (err instanceof CanonicalizationError) return undefined;
      throw err;
    }
  };
  const whole = text(stored);
  if (whole !== undefined && whole === text(parsed)) return undefined;
  const names = [...new Set([...Object.keys(stored), ...Object.keys(parsed)])].sort();
  const changed = names.find((name) => text(stored[name]) !== text(parsed[name]) || text(stored[name]) === undefined);
  return changed === undefined ? 'data' : `data.${changed}`;
}

