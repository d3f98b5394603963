// runledger serve: the dashboard and its JSON API over the projections, on 127.0.0.1 by default.
import { InvalidArgumentError, type Command } from 'commander';
import { InputError, UnavailableError } from '../../errors.js';
import { defaultAssetsDir, listAssets } from '../../server/assets.js';
import { startServer } from '../../server/app.js';
import { allowedHostName, checkExposure, isLoopbackBind, listenAddress } from '../../server/security.js';
import type { CliContext } from '../context.js';

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new InvalidArgumentError('expected a port number 0..65535');
  return port;
}

export function registerServeCommand(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('serve the dashboard (runs, telemetry, checkpoints, comparisons, graph, verification) and its JSON API')
    .option('--port <port>', 'TCP port (0 picks a free one)', parsePort, 8787)
    .option('--host <host>', 'address to listen on; beyond loopback it needs --token (or --insecure-public)', '127.0.0.1')
    .option('--token <token>', 'allow writes — checkpoints, models, the write API and MLflow\'s tracking API (docs/http-api.md, docs/mlflow.md) — for requests with "Authorization: Bearer <token>" (env RUNLEDGER_TOKEN); read-only without; beyond loopback, reads need it too')
    .option('--allowed-host <name...>', 'also answer requests whose Host header is this name (e.g. behind a reverse proxy)')
    .option('--insecure-public', 'listen beyond loopback without a token: anyone who can reach the port reads the whole ledger')
    .option('--consumer <name...>', 'stored consumer positions to report on /metrics besides the projections\' (e.g. relay:<topic>)')
    .action(async (opts: { port: number; host: string; token?: string; allowedHost?: string[]; insecurePublic?: boolean; consumer?: string[] }) => {
      const token = opts.token ?? ctx.env.RUNLEDGER_TOKEN;
      if (token !== undefined && token.length < 16) {
        throw new InputError('--token must be at least 16 characters (a guessable token protects nothing)', { field: '--token' });
      }
      // Checked before the store is opened: a server that must not start starts nothing.
      const host = listenAddress(opts.host);
      const allowedHosts = (opts.allowedHost ?? []).map(allowedHostName);
      checkExposure({ host, token, insecurePublic: opts.insecurePublic });
      const store = await ctx.store();
      if (listAssets(defaultAssetsDir()).size === 0) ctx.note('runledger: dashboard pages are not built (run "npm run build"); serving the JSON API only');
      let server;
      try {
        server = await startServer({ store, home: ctx.home(), host, port: opts.port, token, allowedHosts, insecurePublic: opts.insecurePublic, consumers: opts.consumer ?? [] });
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') {
          throw new InputError(`--host ${opts.host}: no such host name (${code})`, { field: '--host' });
        }
        if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
          throw new UnavailableError(`cannot listen on ${opts.host}:${opts.port}: ${(err as Error).message}`);
        }
        throw err;
      }
      if (!isLoopbackBind(host) && token === undefined) {
        ctx.note(`runledger: WARNING: --insecure-public: anyone who can reach ${server.url} reads this whole ledger, with no token; use --token instead`);
      }
      const access = token === undefined ? 'read-only' : isLoopbackBind(host) ? 'token required for changes' : 'token required';
      ctx.note(`runledger dashboard on ${server.url}/ (${access}); Ctrl-C stops it`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void server.close().finally(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
