// Where a ledger is and who writes to it, resolved the same way by the CLI, the server and the
// public API (docs/cli.md "Environment"): a flag or option first, then the environment, then the
// default. An empty variable counts as unset: CI systems expand a secret that is not configured to "".
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { defaultStoreUrl } from '../store/open.js';

/** The home directory: `given`, else RUNLEDGER_HOME, else ./.runledger; always absolute. */
export function ledgerHome(given: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(given ?? (env.RUNLEDGER_HOME || '.runledger'));
}

/** The store URL: `given`, else RUNLEDGER_STORE, else the embedded store in `home`. */
export function ledgerStoreUrl(given: string | undefined, home: string, env: NodeJS.ProcessEnv = process.env): string {
  return given ?? (env.RUNLEDGER_STORE || defaultStoreUrl(home));
}

/** Who the events' metadata names when the writer does not say: RUNLEDGER_ACTOR, else the OS user, else "unknown". */
export function defaultActor(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RUNLEDGER_ACTOR) return env.RUNLEDGER_ACTOR;
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}
