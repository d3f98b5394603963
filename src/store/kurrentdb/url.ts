// Connection settings from a `kurrentdb://` (or legacy `esdb://`) store URL. The URL is the
// client's connection string plus runledger's own `ledger` parameter, which names the ledger inside
// the database (several ledgers can share one KurrentDB). A password never leaves this file:
// messages name the nodes through `displayUrl` and `where`.
import { InputError } from '../../errors.js';

export interface KurrentSettings {
  /** Connection string for @kurrent/kurrentdb-client: `kurrentdb://` scheme, runledger's parameters removed. */
  connectionString: string;
  /** The URL without its password. */
  displayUrl: string;
  /** The nodes (`host:port,…`), the place an error message names. */
  where: string;
  /** Ledger name: the prefix of every stream this ledger owns (streams.ts). */
  ledger: string;
  /** False with `?tls=false` (an insecure node); TLS is the client's default. */
  tls: boolean;
  /** Where the credentials came from, for messages; never the secret itself. */
  credentials: 'url' | 'env' | 'none';
}

export const DEFAULT_LEDGER = 'runledger';
// Letters, digits, `_` and `.`, so `<ledger>:` can never be a prefix of another ledger's streams.
const LEDGER_NAME = /^[A-Za-z0-9_.]{1,64}$/;
const URL_SHAPE = /^(?<scheme>kurrentdb|kurrent|kdb|esdb)(?<discover>\+discover)?:\/\/(?:(?<userinfo>[^@/?]*)@)?(?<hosts>[^/?@]+)\/?(?:\?(?<query>.*))?$/i;

/** `user:password@` removed from a URL that may not even parse, for messages. */
export function redactKurrentUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}

/**
 * Parses `kurrentdb://[user:password@]host[:port][,host:port…][?tls=false&ledger=name&…]`.
 * `esdb://`, `kdb://` and `kurrent://` (and their `+discover` forms) are accepted and handed to
 * the client as `kurrentdb://`. Credentials come from the URL, else from KURRENTDB_USERNAME and
 * KURRENTDB_PASSWORD in `env`; every other parameter (`tls`, `tlsVerifyCert`, `tlsCaFile`,
 * `nodePreference`, …) goes to the client unchanged.
 */
export function parseKurrentUrl(url: string, env: NodeJS.ProcessEnv = process.env): KurrentSettings {
  const match = URL_SHAPE.exec(url.trim());
  if (!match?.groups) {
    throw new InputError(
      `store URL "${redactKurrentUrl(url)}" is not a KurrentDB URL (expected kurrentdb://[user:password@]host:port[?tls=false&ledger=name])`,
      { field: 'store' },
    );
  }
  const { discover = '', userinfo, hosts, query = '' } = match.groups as { discover?: string; userinfo?: string; hosts: string; query?: string };
  const params: [string, string][] = [];
  let ledger = DEFAULT_LEDGER;
  let tls = true;
  for (const part of query.split('&').filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    if (value === '') throw new InputError(`store URL parameter "${key}" has no value (expected ${key}=…)`, { field: 'store' });
    if (key === 'ledger') {
      ledger = decodeURIComponent(value);
      continue;
    }
    // A failed conditional append must throw: the fence and the append loop depend on it.
    if (key.toLowerCase() === 'throwonappendfailure') {
      throw new InputError('store URL parameter throwOnAppendFailure is not supported: runledger relies on failed appends throwing', { field: 'store' });
    }
    if (key.toLowerCase() === 'tls') tls = value.toLowerCase() !== 'false';
    params.push([key, value]);
  }
  if (!LEDGER_NAME.test(ledger)) {
    throw new InputError(`ledger name "${ledger}" must be 1 to 64 letters, digits, "_" or "." (store URL parameter ledger=)`, { field: 'ledger' });
  }
  let credentials: KurrentSettings['credentials'] = 'none';
  let auth = '';
  if (userinfo !== undefined && userinfo !== '') {
    if (!/^[^:]+:.+$/.test(userinfo)) {
      throw new InputError(`store URL "${redactKurrentUrl(url)}" has credentials without a password (expected user:password@)`, { field: 'store' });
    }
    auth = `${userinfo}@`;
    credentials = 'url';
  } else if (env.KURRENTDB_USERNAME && env.KURRENTDB_PASSWORD) {
    auth = `${encodeURIComponent(env.KURRENTDB_USERNAME)}:${encodeURIComponent(env.KURRENTDB_PASSWORD)}@`;
    credentials = 'env';
  }
  const search = params.length === 0 ? '' : `?${params.map(([k, v]) => `${k}=${v}`).join('&')}`;
  const scheme = `kurrentdb${discover.toLowerCase()}`;
  const user = auth === '' ? '' : `${auth.slice(0, auth.indexOf(':'))}@`;
  const ledgerParam = ledger === DEFAULT_LEDGER ? '' : `${search === '' ? '?' : '&'}ledger=${ledger}`;
  return {
    connectionString: `${scheme}://${auth}${hosts}${search}`,
    displayUrl: `${scheme}://${credentials === 'url' ? user : ''}${hosts}${search}${ledgerParam}`,
    where: hosts,
    ledger,
    tls,
    credentials,
  };
}
