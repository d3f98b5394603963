// Output files named on the command line (--out, --junit, --markdown, demo --dir) are checked
// before a command does any work: a command that ends with exit 2 because it cannot write its
// report has appended nothing. The check is a real one — a temporary file is created next to the
// target at once — so it holds for root and read-only mounts alike, where access(2) would not;
// the report is written to that file and renamed over the target, so no reader ever sees half of
// it and a symlink at the target is replaced rather than followed.
import { closeSync, constants, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync, accessSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.js';

export interface OutputFile {
  /** The target as the user named it. */
  readonly file: string;
  /** Writes the whole content, fsyncs it and renames it over the target. Once. */
  write(content: string | Uint8Array): void;
  /** Streamed output: appends to the temporary file; `commit` then does what `write` does last. */
  append(chunk: Uint8Array): void;
  commit(): void;
  /** Removes the temporary file if nothing was written (call in `finally`). */
  discard(): void;
}

function refuse(option: string, file: string, why: string): InputError {
  return new InputError(`${option} ${file}: ${why}; nothing was written`, { file, field: option });
}

function statOrUndefined(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EROFS') return 'the file system is read-only';
  if (code === 'ENOSPC') return 'no space left on the device';
  return code ?? String(err);
}

/** Creates `path` (which must not exist) for writing; refuses naming the option and the user's path. */
function createExclusive(path: string, option: string, file: string): number {
  try {
    return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
  } catch (err) {
    throw refuse(option, file, `cannot create files in ${dirname(path)} (${reason(err)})`);
  }
}

/**
 * Checks that `file` can be written and reserves a temporary file beside it. Refuses (exit 2, one
 * sentence naming the option and the path) a directory, a missing or non-directory parent, and a
 * location this process cannot write.
 */
export function openOutput(file: string, option: string): OutputFile {
  if (file.trim() === '') throw refuse(option, JSON.stringify(file), 'is empty, expected a file path');
  const target = resolve(file);
  const existing = statOrUndefined(target);
  if (existing?.isDirectory()) throw refuse(option, file, 'is a directory, expected a file path');
  const parent = dirname(target);
  const dir = statOrUndefined(parent);
  if (dir === undefined) throw refuse(option, file, `directory ${parent} does not exist`);
  if (!dir.isDirectory()) throw refuse(option, file, `${parent} is not a directory`);
  if (existing !== undefined) {
    try {
      accessSync(target, constants.W_OK);
    } catch (err) {
      throw refuse(option, file, `cannot be overwritten (${reason(err)})`);
    }
  }
  const temp = join(parent, `.${basename(target)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  let fd: number | undefined = createExclusive(temp, option, file);
  let done = false;
  const discard = (): void => {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
    if (!done) {
      done = true;
      try {
        unlinkSync(temp);
      } catch {
        // already gone
      }
    }
  };
  const guarded = (work: (fd: number) => void): void => {
    if (done || fd === undefined) throw new Error(`${option} ${file} was already written or discarded`);
    try {
      work(fd);
    } catch (err) {
      discard();
      throw refuse(option, file, `cannot be written (${reason(err)})`);
    }
  };
  const append = (bytes: Uint8Array): void => guarded((fd) => {
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
  });
  const commit = (): void => guarded((open) => {
    fsyncSync(open);
    closeSync(open);
    fd = undefined;
    renameSync(temp, target);
    done = true;
  });
  return {
    file,
    write(content) {
      append(typeof content === 'string' ? Buffer.from(content, 'utf8') : content);
      commit();
    },
    append,
    commit,
    discard,
  };
}

/** openOutput for each named option (undefined where the option was not given); all or none are opened. */
export function openOutputs(outputs: readonly (readonly [file: string | undefined, option: string])[]): (OutputFile | undefined)[] {
  const opened: (OutputFile | undefined)[] = [];
  try {
    for (const [file, option] of outputs) opened.push(file === undefined ? undefined : openOutput(file, option));
  } catch (err) {
    for (const output of opened) output?.discard();
    throw err;
  }
  return opened;
}

/**
 * Checks a directory a command will fill (demo --dir): an existing directory, or a new one whose
 * parent exists; created (0700) at once so a later failure is not the first sign of trouble.
 */
export function prepareOutputDirectory(dir: string, option: string): string {
  if (dir.trim() === '') throw refuse(option, JSON.stringify(dir), 'is empty, expected a directory');
  const target = resolve(dir);
  const existing = statOrUndefined(target);
  if (existing !== undefined && !existing.isDirectory()) throw refuse(option, dir, 'exists and is not a directory');
  if (existing === undefined) {
    const parent = statOrUndefined(dirname(target));
    if (parent === undefined) throw refuse(option, dir, `directory ${dirname(target)} does not exist`);
    if (!parent.isDirectory()) throw refuse(option, dir, `${dirname(target)} is not a directory`);
    try {
      mkdirSync(target, { mode: 0o700 });
    } catch (err) {
      throw refuse(option, dir, `cannot be created (${reason(err)})`);
    }
  }
  // A probe file proves the directory is writable (access(2) says yes to root on read-only places).
  const probe = join(target, `.runledger-probe.${process.pid}`);
  closeSync(createExclusive(probe, option, dir));
  unlinkSync(probe);
  return target;
}
