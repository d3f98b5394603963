// runledger witness serve|key: a C2SP tlog-witness for runledger logs (and any log with Ed25519
// checkpoint keys). Its home (--home) holds its own key and state, never a ledger.
import { InvalidArgumentError, type Command } from 'commander';
import { InputError, UnavailableError } from '../../errors.js';
import { parseVerifierKey } from '../../integrity/note.js';
import { hasSigningKey, loadVerifierKey } from '../../ledger/keys.js';
import { ledgerHome as resolveLedgerHome } from '../../ledger/location.js';
import { claimWitnessHome, openWitnessHome } from '../../witness/home.js';
import { checkWitnessExposure, startWitnessServer } from '../../witness/server.js';
import { Witness } from '../../witness/witness.js';
import { allowedHostName, isLoopbackBind, listenAddress } from '../../input/http-host.js';
import { withJson, type CliContext } from '../context.js';

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new InvalidArgumentError('expected a port number 0..65535');
  return port;
}

/** Per origin (the key name, as runledger names its key after the origin), the trusted log keys. */
function logsOf(ctx: CliContext, given: string[] | undefined): { logs: Map<string, string[]>; source: string } {
  const logs = new Map<string, string[]>();
  let keys = given ?? [];
  let source = '--log';
  if (keys.length === 0) {
    // Not --home (the witness's own): the ledger home of the environment, as other commands use it.
    const ledgerHome = resolveLedgerHome(undefined, ctx.env);
    if (!hasSigningKey(ledgerHome)) {
      throw new InputError(`witness serve needs the log's verifier key: pass --log <vkey> (the log operator's "runledger keys show"); no ledger key at ${ledgerHome} to default to`, { field: '--log' });
    }
    keys = [loadVerifierKey(ledgerHome)];
    source = `the ledger home ${ledgerHome} (RUNLEDGER_HOME)`;
  }
  for (const key of keys) {
    let name: string;
    try {
      name = parseVerifierKey(key).name;
    } catch (err) {
      throw new InputError(`--log ${key} is not a signed-note verifier key: ${(err as Error).message}`, { field: '--log' });
    }
    logs.set(name, [...(logs.get(name) ?? []), key.trim()]);
  }
  return { logs, source };
}

export function registerWitnessCommands(program: Command, ctx: CliContext): void {
  const witness = program.command('witness').description('a C2SP tlog-witness: cosigns checkpoints only after checking them against what it saw before');
  withJson(witness.command('serve'))
    .description('serve POST /add-checkpoint (C2SP tlog-witness); state and key in --home')
    .option('--port <port>', 'TCP port (0 picks a free one)', parsePort, 8790)
    .option('--host <host>', 'address to listen on; beyond loopback it needs --token (or --insecure-public)', '127.0.0.1')
    .option('--token <token>', 'require "Authorization: Bearer <token>" on add-checkpoint (env RUNLEDGER_WITNESS_TOKEN)')
    .option('--allowed-host <name...>', 'also answer requests whose Host header is this name (e.g. behind a reverse proxy)')
    .option('--insecure-public', 'listen beyond loopback without a token: anyone who can reach the port may submit checkpoints (each still verified against the log key)')
    .option('--log <vkey...>', "a log's checkpoint verifier key; its name is the log origin (default: the key of the ledger home in RUNLEDGER_HOME)")
    .option('--name <name>', 'name of a new witness key (default witness.runledger.local/<random>)')
    .action(async (opts: { port: number; host: string; token?: string; allowedHost?: string[]; insecurePublic?: boolean; log?: string[]; name?: string; json?: boolean }) => {
      const token = opts.token ?? ctx.env.RUNLEDGER_WITNESS_TOKEN;
      if (token !== undefined && token.length < 16) throw new InputError('--token must be at least 16 characters (a guessable token protects nothing)', { field: '--token' });
      // Checked before the home is touched: a witness that must not start writes nothing.
      const host = listenAddress(opts.host);
      const allowedHosts = (opts.allowedHost ?? []).map(allowedHostName);
      checkWitnessExposure(host, token, opts.insecurePublic);
      const { logs, source } = logsOf(ctx, opts.log);
      const home = openWitnessHome(ctx.home(), opts.name);
      const release = claimWitnessHome(home.dir);
      let server;
      try {
        server = await startWitnessServer(new Witness({ cosigner: home.cosigner, logs, state: home.state }), { port: opts.port, host, token, allowedHosts, insecurePublic: opts.insecurePublic, onError: (err) => ctx.note(`runledger witness: ${(err as Error).message}`) });
      } catch (err) {
        release();
        const code = (err as { code?: string }).code;
        if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') throw new InputError(`--host ${opts.host}: no such host name (${code})`, { field: '--host' });
        if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') throw new UnavailableError(`cannot listen on ${opts.host}:${opts.port}: ${(err as Error).message}`);
        throw err;
      }
      const report = { url: server.url, name: home.cosigner.name, verifierKey: home.verifierKey, home: home.dir, logs: Object.fromEntries(logs) };
      ctx.print(opts.json ?? false, report, () =>
        [`witness ${home.cosigner.name} on ${server.url}/add-checkpoint (Ctrl-C stops it)`, `witness key (give this to auditors): ${home.verifierKey}`, ...[...logs].map(([origin, keys]) => `witnessing ${origin} with ${keys.length} key(s), from ${source}`)].join('\n'),
      );
      if (!isLoopbackBind(host) && token === undefined) ctx.note(`runledger: WARNING: --insecure-public: anyone who can reach ${server.url} may submit checkpoints, with no token; use --token instead`);
      await new Promise<void>((done) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void server.close().finally(() => {
            release();
            done();
          });
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
  withJson(witness.command('key'))
    .description("print the witness's verifier key (cosignature/v1, type 0x04), creating the key in --home if needed")
    .option('--name <name>', 'name of a new witness key')
    .action((opts: { name?: string; json?: boolean }) => {
      const home = openWitnessHome(ctx.home(), opts.name);
      ctx.print(opts.json ?? false, { name: home.cosigner.name, verifierKey: home.verifierKey }, () => home.verifierKey);
    });
}
