// Help that teaches: commands grouped by what they are for, an example under every command's
// --help, and `runledger help <topic>` for the files and URLs commands take. Kept in one place so
// command modules only declare options; test/cli/help.test.ts checks every registered command has
// a group and examples whose options exist.
import type { Command } from 'commander';
import { InputError } from '../errors.js';
import type { CliContext } from './context.js';

export const HELP_GROUPS: readonly { heading: string; commands: readonly string[] }[] = [
  { heading: 'Ledger', commands: ['init', 'append', 'events', 'checkpoint', 'verify', 'proof', 'keys', 'catalog', 'migrate', 'backup', 'restore'] },
  { heading: 'Governance', commands: ['plan', 'stage', 'run', 'runs', 'replay', 'export', 'verify-bundle'] },
  { heading: 'Training', commands: ['train', 'retrain', 'campaign', 'submit', 'worker', 'demo'] },
  { heading: 'Comparison', commands: ['compare', 'gate', 'budgets', 'rederive', 'project', 'bench-compare'] },
  { heading: 'Registry', commands: ['model'] },
  { heading: 'Serving', commands: ['serve', 'witness'] },
  { heading: 'Kafka', commands: ['relay', 'ingest'] },
  { heading: 'Help', commands: ['help'] },
];

/** Examples shown under each command's --help, keyed by command path. Every line runs as written. */
export const EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  init: ['npx runledger init', 'npx runledger --store postgres://runledger@db/ledgers init --json'],
  append: ['echo \'{"stream":"s-1","type":"custom.sample","data":{"i":1}}\' | npx runledger append -', 'npx runledger append events.ndjson --json'],
  events: ['npx runledger events --stream run-r1', 'npx runledger events --from 100 --limit 10 --json'],
  checkpoint: ['npx runledger checkpoint', 'npx runledger checkpoint --json'],
  verify: ['npx runledger verify', 'npx runledger verify --strict   # exit 1 unless every event is inside a signed checkpoint', 'npx runledger verify --key "$(cat auditor.vkey)" --workers 1 --json'],
  proof: ['npx runledger proof inclusion --index 3'],
  'proof inclusion': ['npx runledger proof inclusion --index 3', 'npx runledger proof inclusion --index 1234 --size 5000 --json'],
  'proof consistency': ['npx runledger proof consistency --from 1000', 'npx runledger proof consistency --from 1000 --to 5000 --json'],
  keys: ['npx runledger keys show'],
  'keys show': ['npx runledger keys show > auditor.vkey'],
  'keys rotate': ['npx runledger keys rotate && npx runledger checkpoint && npx runledger verify'],
  'keys history': ['npx runledger keys history', 'npx runledger keys history --key "$(cat auditor.vkey)" --json'],
  witness: ['npx runledger witness serve --port 8790 --home "$(mktemp -d)"'],
  'witness serve': ['npx runledger witness serve --port 8790 --home ./witness --log "$(cat ledger.vkey)"'],
  'witness key': ['npx runledger witness key --home ./witness > witness.vkey'],
  migrate: ['npx runledger migrate --to postgres://runledger@db/ledgers', 'npx runledger migrate --from sqlite:old/ledger.db --to sqlite:new/ledger.db --json'],
  backup: ['npx runledger backup --out ledger.backup', 'npx runledger backup --out ledger.backup --verify --json'],
  restore: ['npx runledger restore ledger.backup --to sqlite:restored/ledger.db', 'npx runledger restore ledger.backup --to postgres://runledger@db/ledgers --json'],
  model: ['npx runledger model register iris --run a && npx runledger model alias iris production 1'],
  'model register': ['npx runledger model register iris --run a', 'npx runledger model register iris --run a --description "first baseline" --json', 'npx runledger model register my-model --run my-script-7 --artifact model'],
  'model alias': ['npx runledger model alias iris production 1 --reason "passed the gate"', 'npx runledger model alias iris staging --delete'],
  'model tag': ['npx runledger model tag iris team vision', 'npx runledger model tag iris validation passed --model-version 2', 'npx runledger model tag iris team --delete --json'],
  'model describe': ['npx runledger model describe iris "Iris classifier, 4 features"', 'npx runledger model describe iris "retrained on May data" --model-version 2'],
  'model history': ['npx runledger model history iris', 'npx runledger model history iris --json'],
  'model show': ['npx runledger model show iris', 'npx runledger model show iris --at 2026-01-01T12:00:00Z --json'],
  catalog: ['npx runledger catalog', 'npx runledger catalog --markdown > docs/events.md'],
  plan: ['npx runledger plan validate docs/examples/plan.yaml'],
  'plan validate': ['npx runledger plan validate docs/examples/plan.yaml', 'npx runledger plan validate plan.json --json'],
  'plan approve': ['npx runledger plan approve docs/examples/plan.yaml --run r1', 'npx runledger plan approve plan.yaml --run r2 --approver alice@example.org --json'],
  stage: ['npx runledger stage start r1 prepare && npx runledger stage complete r1 prepare'],
  'stage start': ['npx runledger stage start r1 prepare', 'npx runledger stage start r1 train --inputs data=train.csv'],
  'stage complete': ['npx runledger stage complete r1 prepare', 'npx runledger stage complete r1 train --outputs model=model.bin --throughput 1200'],
  'stage fail': ['npx runledger stage fail r1 train --reason "out of memory"'],
  run: ['npx runledger run fail r1 --reason "executor crashed"'],
  'run fail': ['npx runledger run fail r1 --reason "executor crashed"'],
  runs: ['npx runledger runs', 'npx runledger runs --filter "campaign = candidate and metrics.testAccuracy > 0.9" --sort -metrics.testAccuracy --json'],
  replay: ['npx runledger replay r1', 'npx runledger replay r1 --full --out manifest.json --json'],
  export: ['npx runledger export r1 --out r1.bundle'],
  'verify-bundle': ['npx runledger verify-bundle r1.bundle --key "$(cat auditor.vkey)"'],
  train: ['npx runledger train --plan docs/examples/train.yaml --run a --backend cpu', 'npx runledger train --resume a'],
  retrain: ['npx runledger retrain a', 'npx runledger retrain base --no-record --json', 'npx runledger retrain a --repeat 100 --no-record'],
  campaign: ['npx runledger campaign --plan docs/examples/train.yaml --repeats 5 --name base'],
  submit: ['npx runledger submit --plan docs/examples/train.yaml --run q1'],
  worker: ['npx runledger worker --until-idle', 'npx runledger worker --id gpu-box-1 --max-runs 10', 'npx runledger worker --brokers kafka:9092 --id gpu-box-2   # a ledger on another machine: its relay and ingest topics'],
  demo: ['npx runledger demo', 'npx runledger demo --dir /tmp/demo --repeats 2'],
  compare: [
    'npx runledger compare --baseline base --candidate cand --policy docs/examples/policy.yaml',
    'npx runledger compare --baseline base --candidate cand,cand-2 --policy docs/examples/policy-multi.yaml --json',
  ],
  gate: [
    'npx runledger gate --baseline base --candidate cand --policy docs/examples/policy.yaml --junit gate.xml --markdown gate.md',
    'npx runledger gate --baseline main-nightly --candidate pr-42 --github --strict',
  ],
  budgets: ['npx runledger budgets base', 'npx runledger budgets r1 --strict --json'],
  rederive: ['npx runledger rederive 3f1c0e9a2b7d4c5e8f60718293a4b5c6', 'npx runledger rederive 3f1c0e9a2b7d4c5e8f60718293a4b5c6 --json'],
  project: ['npx runledger project summary r1'],
  'project rebuild': ['npx runledger project rebuild', 'npx runledger project rebuild run-summary --json'],
  'project summary': ['npx runledger project summary r1'],
  'project graph': ['npx runledger project graph', 'npx runledger project graph a --json'],
  'project link': ['npx runledger project link run:b replay-of run:a --note "same plan, new data"'],
  'bench-compare': ['npx runledger bench-compare bench/baseline.json new.json', 'npx runledger bench-compare bench/baseline.json new.json --absolute --max-regression 20%'],
  serve: ['npx runledger serve', 'npx runledger serve --port 0 --token "$RUNLEDGER_TOKEN"'],
  relay: ['npx runledger relay --brokers 127.0.0.1:9092 --topic runledger.events --once'],
  ingest: ['npx runledger --home ./mirror ingest --brokers 127.0.0.1:9092 --topic runledger.events --once'],
  help: ['npx runledger help', 'npx runledger help plans', 'npx runledger help gate'],
};

const TOPICS: Readonly<Record<string, { summary: string; text: string }>> = {
  plans: {
    summary: 'plan files: what is approved (governance) and how it runs (execution)',
    text: `Plan files (YAML or JSON) — commented example: docs/examples/plan.yaml

  governance:          what is approved; hashed as governancePlanHash
    name               identifier of the plan (letters, digits, . _ -)
    approver           who must approve: "plan approve --approver" must match
    description        free text
    config             free-form JSON object (hyperparameters, notes)
    datasets           [{name, digest (SHA-256 hex), source?}]
    seeds              {name: 1 … 2^32-1}; 0 is refused (TensorFlow.js treats it as "unseeded")
    budgets            {stage: {maxWallMs?, maxMemoryDeltaBytes?, minThroughput?}}, checked by gate/budgets
    gatePolicy         path or name of the policy that judges the run
    training           the training section (docs/training.md; example docs/examples/train.yaml)
  execution:           how it is carried out; hashed as executionPlanHash
    stages             [{id, description?, dependsOn?: [earlier stage ids]}]

Each section is normalised (defaults applied) and hashed: SHA-256 of its RFC 8785 form, so
comments, key order and YAML-vs-JSON never change a hash and any changed value does.
Errors name the file, line and field, and nothing is written (exit 2).

  npx runledger plan validate docs/examples/plan.yaml
  npx runledger plan approve docs/examples/plan.yaml --run r1
  npx runledger stage start r1 prepare && npx runledger stage complete r1 prepare
  npx runledger train --plan docs/examples/train.yaml --run a

More: docs/governance.md, docs/training.md`,
  },
  policies: {
    summary: 'gate policies: which metrics may regress by how much, and how it is decided',
    text: `Gate policies (YAML or JSON) — commented example: docs/examples/policy.yaml

  version: 1               required
  seed: 20240601           bootstrap PRNG seed: same ledger and policy, same intervals
  aggregation: mean        mean | median: how a campaign's repeats combine
  minRepeats: 5            statistical tests need this many runs on both sides
  rules:                   one per metric
    - metric: testAccuracy
      direction: higher-is-better     or lower-is-better
      absolute: 0.02                  tolerated regression in the metric's units
      relative: 3%                    tolerated regression relative to the baseline
      test: bootstrap                 bootstrap | mann-whitney | none
      severity: hard                  hard fails the gate, soft warns
  budgets:
    severity: hard         severity of the plan's per-stage budget breaches

Without --policy every shared metric gets a 1% relative, hard, bootstrap rule. The normalised
policy and its hash are recorded with each decision, so a verdict is replayable evidence.

  npx runledger compare --baseline base --candidate cand --policy docs/examples/policy.yaml
  npx runledger gate --baseline base --candidate cand --policy docs/examples/policy.yaml --junit gate.xml --github

More: docs/gates.md, docs/ci.md`,
  },
  stores: {
    summary: 'store URLs: where the log is kept (--store, RUNLEDGER_STORE)',
    text: `Stores — chosen by URL with --store or RUNLEDGER_STORE

  sqlite:<path>            embedded, one file, WAL, durable commits; the default is
                           sqlite:<home>/ledger.db, home = --home, RUNLEDGER_HOME or ./.runledger
  postgres://USER@HOST:PORT/DB?schema=runledger&pool=10
                           PostgreSQL 13+: many writers on many machines, gap-free subscribers,
                           one integrator; put the password in PGPASSWORD, not the URL
  kurrentdb://HOST:2113?tls=false, esdb://…
                           KurrentDB / EventStoreDB 22+: credentials in the URL or
                           KURRENTDB_USERNAME / KURRENTDB_PASSWORD (docs/stores.md)

Keys, checkpoints and projection snapshots live in the home directory whatever the store.
A store that cannot be reached is exit 3; "runledger init" creates the ledger (idempotent).

  npx runledger init
  RUNLEDGER_STORE=postgres://runledger@db.internal/ledgers npx runledger init --json
  npx runledger --store sqlite:/var/lib/runledger/ledger.db verify

More: docs/stores.md`,
  },
};

export const HELP_TOPICS: readonly string[] = Object.keys(TOPICS);

/** "proof inclusion" for the `inclusion` subcommand of `proof`. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Every command below the program, depth first, with its path ("proof inclusion"). */
export function allCommands(program: Command): { path: string; command: Command }[] {
  const out: { path: string; command: Command }[] = [];
  const walk = (c: Command): void => {
    for (const sub of c.commands) {
      out.push({ path: commandPath(sub), command: sub });
      walk(sub);
    }
  };
  walk(program);
  return out;
}

/** The `help [topic...]` command: a topic, a command's help, or the grouped overview. */
export function registerHelpCommand(program: Command, ctx: CliContext): void {
  program.helpCommand(false);
  program
    .command('help')
    .description(`this overview, a command's help ("help gate"), or a topic: ${HELP_TOPICS.join(', ')}`)
    .argument('[topic...]', `a command path or one of: ${HELP_TOPICS.join(', ')}`)
    .action((words: string[]) => {
      const write = (text: string): void => void ctx.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
      if (words.length === 0) return program.outputHelp();
      const topic = TOPICS[words.join(' ')];
      if (topic) return write(topic.text);
      let command: Command | undefined = program;
      for (const word of words) command = command?.commands.find((c) => c.name() === word || c.aliases().includes(word));
      if (!command) {
        throw new InputError(`no command or help topic "${words.join(' ')}": topics are ${HELP_TOPICS.join(', ')}; commands are listed by "runledger help"`, { field: 'topic' });
      }
      command.outputHelp();
    });
}

/** Groups, examples and the closing notes; call after every command is registered. */
export function applyHelp(program: Command): void {
  const order = HELP_GROUPS.flatMap((g) => g.commands);
  const grouped = new Map(HELP_GROUPS.flatMap((g) => g.commands.map((name) => [name, `${g.heading}:`] as const)));
  for (const sub of program.commands) {
    const heading = grouped.get(sub.name());
    if (heading) sub.helpGroup(heading);
  }
  // Commander lists groups in the order their first command was registered: list them as above.
  const rank = (c: Command): number => (order.includes(c.name()) ? order.indexOf(c.name()) : order.length);
  (program.commands as Command[]).sort((a, b) => rank(a) - rank(b));
  for (const { path, command } of allCommands(program)) {
    const examples = EXAMPLES[path];
    if (examples?.length) command.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`);
  }
  program.addHelpText(
    'after',
    [
      '',
      'Start here:',
      '  $ npx runledger demo                 # a guided tour on a throw-away ledger',
      '  $ npx runledger init && npx runledger runs',
      '',
      `Topics: ${HELP_TOPICS.map((t) => `"runledger help ${t}"`).join(', ')}.`,
      'Every reporting command takes --json (errors too: {"ok":false,"error":{…}} on stdout).',
      'Exit codes: 0 ok, 1 verification or hard gate failed, 2 bad input or usage, 3 store or service unavailable.',
      'Documentation: README.md and docs/ of this package.',
      '',
    ].join('\n'),
  );
}
