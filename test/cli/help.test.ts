// Help that teaches: every command sits in a group and shows examples that name real commands
// and options; `runledger help <topic>` explains plans, policies and stores.
import assert from 'node:assert/strict';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import { allCommands, EXAMPLES, HELP_GROUPS, HELP_TOPICS } from '../../src/cli/help.js';
import { runCli } from '../support/cli.js';

/** Shell words of a one-line example (quotes kept together, operators as their own words, no comment). */
function words(line: string): string[] {
  return [...line.replace(/\s#\s.*$/, '').matchAll(/"[^"]*"|'[^']*'|&&|\|\||[|;>]|[^\s|;>]+/g)].map((m) => m[0]);
}

/** Each `npx runledger …` segment of an example, as the words after `npx runledger`. */
function invocations(example: string): string[][] {
  const out: string[][] = [];
  let current: string[] | null = null;
  const all = words(example);
  for (let i = 0; i < all.length; i++) {
    const w = all[i]!;
    if (['&&', '||', '|', ';', '>'].includes(w)) {
      if (current) out.push(current);
      current = null;
      if (w === '>') i++; // the redirect target
    } else if (w === 'npx' && all[i + 1] === 'runledger') {
      current = [];
      i++;
    } else current?.push(w);
  }
  if (current) out.push(current);
  return out;
}

const longFlags = (c: Command): string[] => c.options.flatMap((o) => [o.long, o.negate ? o.long : undefined].filter((f): f is string => f !== undefined));

/** Walks an invocation through commander's tree: the command it reaches and any flag it does not know. */
function resolve(program: Command, args: string[]): { path: string; unknown: string[] } {
  let command = program;
  const unknown: string[] = [];
  const path: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('--')) {
      const flag = a.split('=')[0]!;
      const owner = [command, program].find((c) => longFlags(c).includes(flag));
      if (!owner) unknown.push(flag);
      else if (owner.options.find((o) => o.long === flag)!.required || owner.options.find((o) => o.long === flag)!.optional) i++;
      continue;
    }
    // Only groups have subcommands, and groups take no arguments: a matching name descends.
    const sub = command.commands.find((c) => c.name() === a);
    if (sub) {
      command = sub;
      path.push(a);
    }
  }
  return { path: path.join(' '), unknown };
}

describe('runledger help', function () {
  this.timeout(60_000);
  let program: Command;
  let commands: { path: string; command: Command }[];
  before(async () => {
    ({ program } = await buildProgram());
    commands = allCommands(program);
  });

  it('puts every command in one of the groups, and every grouped name is a command', () => {
    const grouped = HELP_GROUPS.flatMap((g) => g.commands);
    const top = program.commands.map((c) => c.name());
    assert.deepEqual(top.filter((n) => !grouped.includes(n)), [], 'commands without a group');
    assert.deepEqual(grouped.filter((n) => !top.includes(n)), [], 'grouped names that are not commands');
    assert.deepEqual(
      HELP_GROUPS.map((g) => g.heading),
      ['Ledger', 'Governance', 'Training', 'Comparison', 'Registry', 'Serving', 'Kafka', 'Help'],
    );
  });

  it('has examples for every command, each naming that command and only options it has', () => {
    // Groups' own implicit "help" subcommands are commander's, not ours.
    const missing = commands.filter(({ path, command }) => command.name() !== 'help' || path === 'help').filter(({ path }) => !EXAMPLES[path]?.length);
    assert.deepEqual(missing.map((m) => m.path), [], 'commands without examples');
    for (const [path, examples] of Object.entries(EXAMPLES)) {
      assert.ok(commands.some((c) => c.path === path), `examples for "${path}", which is not a command`);
      for (const example of examples) {
        assert.match(example, /(^|\| )npx runledger /, `${path}: "${example}" must run npx runledger`);
        assert.doesNotMatch(example.replace(/npx runledger/g, ''), /(^|[|;&(]\s*)runledger /, `${path}: "${example}" has a bare runledger`);
        for (const args of invocations(example)) {
          const reached = resolve(program, args);
          // An example of a group may show one of its subcommands; `&&` may chain another command.
          assert.ok(reached.path === path || reached.path.startsWith(`${path} `) || example.includes('&&'), `${path}: "${example}" reaches "${reached.path}"`);
          assert.deepEqual(reached.unknown, [], `${path}: "${example}" uses options "${reached.unknown.join(', ')}" that "${reached.path}" does not have`);
        }
      }
    }
  });

  it('catches an example with a stale option', () => {
    assert.deepEqual(resolve(program, ['verify', '--wokers', '1']).unknown, ['--wokers']);
    assert.deepEqual(resolve(program, ['--home', 'x', 'proof', 'inclusion', '--index', '3']), { path: 'proof inclusion', unknown: [] });
  });

  it('lists the groups in order with their commands, examples and exit codes in --help', async () => {
    const res = await runCli(['--help']);
    assert.equal(res.code, 0);
    const headings = [...res.stdout.matchAll(/^(\w+):$/gm)].map((m) => m[1]);
    assert.deepEqual(headings, ['Options', 'Ledger', 'Governance', 'Training', 'Comparison', 'Registry', 'Serving', 'Kafka', 'Help']);
    assert.match(res.stdout, /Governance:\n(?:.*\n)*?\s+runs \[options\]/);
    assert.match(res.stdout, /Exit codes: 0 ok, 1 verification or hard gate failed, 2 bad input or usage, 3 store or service unavailable/);
    assert.match(res.stdout, /runledger help plans/);
  });

  it('shows examples under a command\'s --help, and "help <command>" is the same page', async () => {
    const direct = await runCli(['gate', '--help']);
    assert.equal(direct.code, 0);
    assert.match(direct.stdout, /Examples:\n {2}\$ npx runledger gate --baseline base --candidate cand/);
    const viaHelp = await runCli(['help', 'gate']);
    assert.equal(viaHelp.code, 0);
    assert.equal(viaHelp.stdout, direct.stdout);
    const nested = await runCli(['help', 'proof', 'inclusion']);
    assert.match(nested.stdout, /Usage: runledger proof inclusion/);
  });

  it('explains plans, policies and stores as topics', async () => {
    assert.deepEqual([...HELP_TOPICS], ['plans', 'policies', 'stores']);
    const expected: Record<string, RegExp> = { plans: /governancePlanHash[\s\S]*dependsOn/, policies: /direction: higher-is-better[\s\S]*severity/, stores: /sqlite:<path>[\s\S]*postgres:\/\// };
    for (const topic of HELP_TOPICS) {
      const res = await runCli(['help', topic]);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, expected[topic]!);
      assert.match(res.stdout, /More: docs\//);
    }
  });

  it('refuses an unknown topic with exit 2 naming the topics', async () => {
    const res = await runCli(['help', 'planz']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /no command or help topic "planz": topics are plans, policies, stores/);
  });

  it('prints the overview on stdout for a bare "runledger"', async () => {
    const res = await runCli([]);
    assert.equal(res.code, 0);
    assert.match(res.stdout, /^Usage: runledger /);
    assert.equal((await runCli(['help'])).stdout, res.stdout);
  });
});
