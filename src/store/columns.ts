// Encodings every adapter shares: the packed compact-range column and integer read options.
import { InputError } from '../errors.js';
import { HASH_SIZE } from '../integrity/hasher.js';

/** The tree state column: the compact range's hashes, 32 bytes each, left to right. */
export function splitRange(blob: Buffer): Buffer[] {
  const hashes: Buffer[] = [];
  for (let at = 0; at < blob.length; at += HASH_SIZE) hashes.push(blob.subarray(at, at + HASH_SIZE));
  return hashes;
}

export function integerOption(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value)) throw new InputError(`${name} must be an integer, got ${value}`, { field: name });
  return value;
}

/** A read's `limit`: undefined means none; otherwise a non-negative integer. */
export function limitOption(limit: number | undefined): number | undefined {
  if (limit === undefined) return undefined;
  if (!Number.isSafeInteger(limit) || limit < 0) throw new InputError(`limit must be a non-negative integer, got ${limit}`, { field: 'limit' });
  return limit;
}
