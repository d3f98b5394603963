// CLI start-up (docs/benchmarks.md, "CLI start-up"): a command loads only its own group's module,
// and `--version` and `events` load none of the heavy modules. Structural, not timed: the timing is
// bench/startup.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { commandGroups } from '../../src/cli/commands/index.js';
import { CliContext } from '../../src/cli/context.js';
import { buildProgram } from '../../src/cli/main.js';
import { HELP_GROUPS } from '../../src/cli/help.js';
import { cliPath, runCli } from '../support/cli.js';

const HEAVY = /node_modules\/(zod|rxjs|fastify|@fastify|kafkajs|@tensorflow|pg|pg-pool|@kurrent|prom-client|cli-progress)\//;

// Records every module a process loads: ESM through a resolve hook, CommonJS through Module._load.
const HOOKS = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.RUNLEDGER_TRACE_MODULES, r.url + '\\n');
  return r;
}`;
const PRELOAD = `import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOKS)}));
const Module = createRequire(import.meta.url)('node:module');
const load = Module._load;
Module._load = function (request, parent, isMain) {
  appendFileSync(process.env.RUNLEDGER_TRACE_MODULES, Module._resolveFilename(request, parent, isMain) + '\\n');
  return load.apply(this, arguments);
};`;

describe('CLI start-up', function () {
  this.timeout(60_000);
  let dir: string;
  let home: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'runledger-startup-'));
    home = join(dir, 'home');
    writeFileSync(join(dir, 'trace.mjs'), PRELOAD);
    assert.equal((await runCli(['init'], { env: { RUNLEDGER_HOME: home, RUNLEDGER_STORE: undefined } })).code, 0);
    const appended = await runCli(['append', '-'], { env: { RUNLEDGER_HOME: home, RUNLEDGER_STORE: undefined }, input: '{"stream":"lab-1","type":"custom.sample","data":{"i":1}}\n' });
    assert.equal(appended.code, 0, appended.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The files and URLs a CLI run loads. */
  function loaded(args: string[]): string[] {
    const trace = join(dir, `trace-${args.join('-')}.txt`);
    writeFileSync(trace, '');
    const child = spawnSync(process.execPath, ['--import', pathToFileURL(join(dir, 'trace.mjs')).href, cliPath, ...args], {
      env: { ...process.env, RUNLEDGER_HOME: home, RUNLEDGER_STORE: '', RUNLEDGER_TRACE_MODULES: trace },
    });
    assert.equal(child.status, 0, child.stderr.toString());
    return readFileSync(trace, 'utf8').split('\n').filter(Boolean);
  }

  it('loads no command module and none of the heavy modules for --version', () => {
    const modules = loaded(['--version']);
    assert.deepEqual(modules.filter((m) => HEAVY.test(m) || /\/cli\/commands\/(?!index\.js)/.test(m)), []);
    assert.ok(modules.some((m) => m.includes('/node_modules/commander/')), 'the trace sees commander (the tracer works)');
  });

  it('loads only the ledger commands, without the event schemas, rxjs or a server, for events --limit 1', () => {
    const modules = loaded(['events', '--limit', '1']);
    assert.deepEqual(modules.filter((m) => HEAVY.test(m) || /\/events\/[a-z-]+\.js$/.test(m)), []);
    assert.deepEqual([...new Set(modules.filter((m) => /\/cli\/commands\//.test(m)).map((m) => m.replace(/.*\//, '')))].sort(), ['index.js', 'ledger.js']);
    assert.ok(modules.some((m) => m.includes('better-sqlite3')), 'the trace sees the store driver (the tracer works)');
  });

  // The store opens first since round 8: the tree size decides whether any thread starts (test/cli/verify-workers.test.ts counts them).
  it('loads the thread pool before the verifier and the event schemas for verify --workers 2', () => {
    const modules = loaded(['verify', '--json', '--workers', '2']);
    const pool = modules.findIndex((m) => m.endsWith('/replay/verify-pool.js'));
    assert.ok(pool >= 0, 'the pool module is loaded');
    for (const later of [/\/replay\/verify-log\.js$/, /\/replay\/ledger-verification\.js$/, /node_modules\/zod\//]) {
      const at = modules.findIndex((m) => later.test(m));
      assert.ok(at > pool, `${later.source} is loaded after the pool module (at ${at}, pool at ${pool})`);
    }
  });

  it('lists in each group exactly the commands its module registers, and every grouped command has one', async () => {
    const seen: string[] = [];
    for (const group of commandGroups) {
      const program = new Command('runledger');
      (await group.load())(program, new CliContext(program));
      assert.deepEqual(program.commands.map((c) => c.name()).sort(), [...group.commands].sort());
      seen.push(...group.commands);
    }
    const helpNames = HELP_GROUPS.flatMap((g) => g.commands).filter((n) => n !== 'help');
    assert.deepEqual(seen.sort(), helpNames.sort());
  });

  it('builds only the group a command line names, after the root options and their values', async () => {
    const names = async (...args: string[]) => (await buildProgram(undefined, ['node', 'runledger', ...args])).program.commands.map((c) => c.name());
    const ledger = await names('--home', 'serve', '--store=sqlite:x.db', 'events', '--limit', '1');
    assert.ok(ledger.includes('events') && ledger.includes('verify'));
    assert.ok(!ledger.includes('serve'), 'the value of --home is not a command');
    assert.deepEqual(await names('--version'), ['help']);
    const all = HELP_GROUPS.flatMap((g) => g.commands).length;
    assert.equal((await names('--help', 'events')).length, all);
    assert.equal((await names('evnets')).length, all, 'a misspelt command sees every command for suggestions');
    assert.equal((await names()).length, all);
  });

  it('still suggests the command meant for a misspelt one', async () => {
    const res = await runCli(['verfy'], { env: { RUNLEDGER_HOME: home } });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /Did you mean verify\?/);
  });
});
