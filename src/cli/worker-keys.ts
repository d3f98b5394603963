// `--worker-key` values (plan approve, submit): a worker key as text — base64 of the raw Ed25519 key,
// or the C2SP verifier key `runledger keys show --worker` prints — or a file holding one.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { InputError } from '../errors.js';
import { parseWorkerKey } from '../integrity/worker-signature.js';

export function parseWorkerKeys(values: readonly string[], flag = '--worker-key'): string[] {
  return [
    ...new Set(
      values.map((value) => {
        // Key texts contain "+" or end in "="; anything else names a file.
        if (value.includes('+') || value.endsWith('=')) return parseWorkerKey(value, flag);
        if (!existsSync(value) || !statSync(value).isFile()) {
          throw new InputError(`${flag} "${value}" is neither a worker key (base64, or <name>+<id>+<key>) nor a file holding one`, { field: flag, file: value });
        }
        return parseWorkerKey(readFileSync(value, 'utf8'), `${flag} ${value}`);
      }),
    ),
  ];
}
