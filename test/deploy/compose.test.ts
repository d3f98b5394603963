// docker-compose.yml, checked without a container engine: the compose client's own validation where
// it exists, the compose-spec JSON schema where it is available, and runledger's rules (lint.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot, runCli } from '../support/cli.js';
import { optionalModule } from '../../infra/services/services.js';
import { lintCompose, parseCompose, runledgerCommands, type ComposeFile } from './lint.js';

const composePath = join(repoRoot, 'docker-compose.yml');
const SCHEMA_VAR = 'RUNLEDGER_COMPOSE_SCHEMA';
const SCHEMA_SOURCE = 'schema/compose-spec.json of github.com/compose-spec/compose-spec (Apache-2.0)';

/** `docker compose` (the CLI plugin), else a standalone v2+ `docker-compose`; the argv prefix, or why there is none. */
function composeClient(): { argv: string[] } | { missing: string } {
  const plugin = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8', timeout: 10_000 });
  if (plugin.status === 0) return { argv: ['docker', 'compose'] };
  const standalone = process.env.RUNLEDGER_DOCKER_COMPOSE ?? 'docker-compose';
  const alone = spawnSync(standalone, ['version'], { encoding: 'utf8', timeout: 10_000 });
  if (alone.status === 0 && !/version 1\./i.test(alone.stdout)) return { argv: [standalone] };
  const why = plugin.error ? 'no docker CLI' : (plugin.stderr || plugin.stdout).trim().split('\n')[0];
  return { missing: `docker compose is not available (${why}); install the Compose plugin, or point RUNLEDGER_DOCKER_COMPOSE at a docker-compose v2+ binary` };
}

/** The compose-spec schema: $RUNLEDGER_COMPOSE_SCHEMA, else shared/compose-spec/compose-spec.json beside the repository (or above it). */
function schemaPath(): string | undefined {
  const given = process.env[SCHEMA_VAR];
  if (given) return given;
  for (let dir = dirname(repoRoot); ; dir = dirname(dir)) {
    const candidate = join(dir, 'shared', 'compose-spec', 'compose-spec.json');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

interface AjvLike {
  compile(schema: object): ((data: unknown) => boolean) & { errors?: { instancePath: string; message?: string; params?: unknown }[] | null };
}

describe('docker-compose.yml', function () {
  let file: ComposeFile;
  before(() => (file = parseCompose(readFileSync(composePath, 'utf8'))));

  it('passes `docker compose config -q` where the compose client exists', function () {
    const client = composeClient();
    if ('missing' in client) {
      console.log(`      skipping docker compose config: ${client.missing}`);
      this.skip();
    }
    const [cmd, ...args] = client.argv;
    const res = spawnSync(cmd!, [...args, '-f', composePath, 'config', '-q'], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });
    assert.equal(res.status, 0, `docker compose config failed:\n${res.stderr}${res.stdout}`);
  });

  it('is valid against the compose-spec JSON schema', async function () {
    const path = schemaPath();
    if (!path) {
      console.log(`      skipping the compose-spec schema check: no schema here; set ${SCHEMA_VAR}=<path> to ${SCHEMA_SOURCE}, or place it at shared/compose-spec/compose-spec.json beside the repository`);
      this.skip();
    }
    const ajvModule = await optionalModule<{ default: new (options: object) => AjvLike }>('ajv');
    if (!ajvModule) {
      console.log('      skipping the compose-spec schema check: the ajv package is not installed');
      this.skip();
    }
    const schema = JSON.parse(readFileSync(path, 'utf8')) as object;
    // The schema is draft-07 and names its meta-schema without the '#' ajv expects; compile, don't meta-validate.
    const validate = new ajvModule.default({ allErrors: true, strict: false, validateSchema: false }).compile(schema);
    const ok = validate(file);
    assert.ok(ok, `docker-compose.yml does not match ${path}:\n${JSON.stringify(validate.errors, null, 2)}`);
    // The schema bites: a service with an unknown key and a non-string image is refused.
    assert.equal(validate({ services: { bad: { image: 1, imagee: 'x' } } }), false);
  });

  it('follows the deployment rules: pinned images, health checks, loopback-only ports, named volumes, no egress, no secrets', function () {
    assert.deepEqual(lintCompose(file), []);
  });

  it('starts the platform: KurrentDB (LTS, insecure single node), PostgreSQL, Kafka (KRaft), serve, a worker, relay and ingest', function () {
    const services = file.services ?? {};
    for (const name of ['kurrentdb', 'postgres', 'kafka', 'init', 'serve', 'worker', 'relay', 'ingest']) assert.ok(services[name], `service ${name}`);
    const kurrent = services.kurrentdb!;
    assert.match(kurrent.image!, /kurrent-lts\/kurrentdb:\d+\.0\.\d+$/);
    const kurrentEnv = kurrent.environment as Record<string, unknown>;
    assert.equal(String(kurrentEnv.KURRENTDB_INSECURE), 'true');
    assert.equal(String(kurrentEnv.KURRENTDB_CLUSTER_SIZE), '1');
    const kafka = services.kafka!.environment as Record<string, unknown>;
    assert.match(String(kafka.KAFKA_PROCESS_ROLES), /controller/);
    assert.equal(kafka.KAFKA_ZOOKEEPER_CONNECT, undefined);
    const runledger = Object.entries(services).filter(([, s]) => s.build !== undefined);
    for (const [name, service] of runledger) {
      const env = service.environment as Record<string, unknown>;
      assert.match(String(env.RUNLEDGER_STORE), /^postgres:\/\/[^@]+@postgres:5432\//, `${name} uses the shared store`);
      assert.ok(service.volumes?.includes('runledger-home:/data'), `${name} shares the ledger home`);
    }
    assert.ok('RUNLEDGER_TOKEN' in (services.serve!.environment as object), 'serve takes its token from the environment');
  });

  it('runs only runledger commands and options that exist (checked against the built CLI)', async function () {
    this.timeout(120_000);
    const commands = runledgerCommands(file);
    assert.ok(commands.length >= 6, `${commands.length} runledger commands found`);
    for (const { where, args } of commands) {
      const sub = args[0]!.startsWith('-') ? [] : [args[0]!];
      const help = await runCli([...sub, '--help']);
      assert.equal(help.code, 0, `${where}: runledger ${sub.join(' ')} --help exited ${help.code}: ${help.stderr}`);
      for (const flag of args.filter((a) => a.startsWith('--'))) {
        assert.match(help.stdout, new RegExp(`(^|\\s)${flag}(\\s|,|$)`, 'm'), `${where}: runledger ${sub.join(' ')} has no option ${flag}`);
      }
    }
  });
});

describe('deployment rules (lint.ts) catch what they are for', function () {
  const good = (): ComposeFile => ({
    services: {
      db: { image: 'postgres:18.4-alpine', healthcheck: { test: ['CMD', 'true'] }, ports: ['127.0.0.1:5432:5432'], volumes: ['data:/var/lib/postgresql'], networks: ['inner', 'edge'] },
      app: { build: '.', command: ['serve'], healthcheck: { test: ['CMD', 'true'] }, depends_on: { db: { condition: 'service_healthy' }, once: { condition: 'service_completed_successfully' } }, networks: ['inner'] },
      once: { build: '.', restart: 'no', networks: ['inner'] },
    },
    volumes: { data: null },
    networks: { inner: { internal: true }, edge: {} },
  });

  it('accepts the good example', function () {
    assert.deepEqual(lintCompose(good()), []);
  });

  const cases: [string, (f: ComposeFile) => void, RegExp][] = [
    ['an unpinned image', (f) => (f.services!.db!.image = 'postgres:latest'), /image postgres:latest is not pinned/],
    ['an untagged image', (f) => (f.services!.db!.image = 'postgres'), /image postgres is not pinned/],
    ['a long-running service without a healthcheck', (f) => delete f.services!.app!.healthcheck, /service app: no healthcheck/],
    ['a port published on every interface', (f) => (f.services!.db!.ports = ['5432:5432']), /published beyond the host's loopback/],
    ['a bind mount', (f) => (f.services!.db!.volumes = ['./pgdata:/var/lib/postgresql']), /bind mount \.\/pgdata/],
    ['an undeclared volume', (f) => (f.services!.db!.volumes = ['other:/x']), /volume other is not declared/],
    ['a declared volume nobody uses', (f) => (f.volumes!.spare = null), /volume spare is declared but no service uses it/],
    ['waiting for health that is never reported', (f) => delete f.services!.db!.healthcheck, /waits for db to be healthy, but it has no healthcheck/],
    ['waiting for a restarting service to complete', (f) => delete f.services!.once!.restart, /waits for once to complete, but it restarts/],
    ['a token written in the file', (f) => (f.services!.app!.environment = { RUNLEDGER_TOKEN: 'abcdefghijklmnopq' }), /RUNLEDGER_TOKEN has a value in the file/],
    ['a service without ports on a network with egress', (f) => (f.services!.app!.networks = ['inner', 'edge']), /joins non-internal network edge/],
    ['a service on the default network', (f) => delete f.services!.once!.networks, /joins non-internal network default/],
  ];
  for (const [what, spoil, expected] of cases) {
    it(`refuses ${what}`, function () {
      const f = good();
      spoil(f);
      const problems = lintCompose(f);
      assert.ok(problems.some((p) => expected.test(p)), `expected ${expected} in ${JSON.stringify(problems)}`);
    });
  }

  it('finds the runledger commands of built services, healthchecks included, and nothing of the datastores', function () {
    const f = good();
    f.services!.app!.healthcheck = { test: ['CMD', 'node', '/app/bin/runledger.js', 'events', '--limit', '1'] };
    assert.deepEqual(runledgerCommands(f), [
      { where: 'service app command', args: ['serve'] },
      { where: 'service app healthcheck', args: ['events', '--limit', '1'] },
    ]);
  });
});
