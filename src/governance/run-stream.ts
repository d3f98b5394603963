// Run streams: each governed run is one stream, `run-<runId>`, whose id is an Identifier so that it
// is safe in stream names, file names and command lines.
import { InputError } from '../errors.js';
import { Identifier } from './plan.js';

export const RUN_STREAM_PREFIX = 'run-';

/** Each run is one stream. */
export function runStream(runId: string): string {
  return `${RUN_STREAM_PREFIX}${runId}`;
}

/** Whether a stream holds a governed run (and so is guarded by the write rules). */
export function isRunStream(stream: string): boolean {
  return stream.startsWith(RUN_STREAM_PREFIX);
}

/** The run id a run stream names (which may not be a valid id: the rules refuse such streams). */
export function runIdOf(stream: string): string {
  return stream.slice(RUN_STREAM_PREFIX.length);
}

/** Rejects run ids that cannot name a stream or a file. */
export function checkRunId(runId: string): string {
  const parsed = Identifier.safeParse(runId);
  if (!parsed.success) throw new InputError(`run id "${runId}" ${parsed.error.issues[0]!.message}`, { field: 'run' });
  return runId;
}

export function isValidRunId(runId: string): boolean {
  return Identifier.safeParse(runId).success;
}
