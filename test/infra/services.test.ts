import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kurrentdbPlan } from '../support/kurrentdb.js';
import {
  detectContainerRuntime,
  runtimeCandidates,
  selectService,
  type ContainerRuntime,
  type SelectionEnvironment,
  type ServicePlan,
  type Unavailable,
} from '../../infra/services/services.js';

const RUNTIME: ContainerRuntime = { dockerHost: 'unix:///fake/docker.sock', host: 'localhost' };

/** A plan whose every source records that it was asked and answers as told. */
function fakePlan(answers: { env?: string | Unavailable; container?: string | Unavailable | Error; local?: string | Unavailable }) {
  const calls: string[] = [];
  const answer = async (source: string, value: string | Unavailable | Error | undefined): Promise<string | Unavailable> => {
    calls.push(source);
    if (value instanceof Error) throw value;
    return value ?? { unavailable: `${source} not configured` };
  };
  const plan: ServicePlan<string> = {
    name: 'FakeDB',
    envVar: 'FAKE_URL',
    envExample: 'fake://host:1',
    fromEnv: (value) => {
      calls.push(`env:${value}`);
      return Promise.resolve(answers.env ?? 'from-env');
    },
    fromContainer: (runtime) => answer(`container:${runtime.dockerHost}`, answers.container),
    fromLocal: () => answer('local', answers.local),
    localHint: 'install the fake server',
  };
  return { plan, calls };
}

function fakeEnvironment(env: Record<string, string>, runtime: ContainerRuntime | Unavailable): SelectionEnvironment & { probes: number } {
  const environment = {
    env,
    probes: 0,
    containerRuntime: async () => {
      environment.probes += 1;
      return runtime;
    },
  };
  return environment;
}

function listen(server: Server | HttpServer, where: string | number): Promise<void> {
  return new Promise((resolve) => {
    if (typeof where === 'number') server.listen(where, '127.0.0.1', () => resolve());
    else server.listen(where, () => resolve());
  });
}

/** Tracks a server's connections so close() can end them: a silent socket never ends its own. */
function tracked<S extends Server | HttpServer>(server: S): S {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  (server as S & { endAll(): void }).endAll = () => sockets.forEach((s) => s.destroy());
  return server;
}

function close(server: Server | HttpServer): Promise<void> {
  return new Promise((resolve) => {
    (server as { endAll?: () => void }).endAll?.();
    server.close(() => resolve());
  });
}

describe('test services: selection order (env URL → container → local → skip)', function () {
  it('uses the server the env var names, without probing for a container runtime or starting anything', async function () {
    const { plan, calls } = fakePlan({ container: 'from-container', local: 'from-local' });
    const environment = fakeEnvironment({ FAKE_URL: 'fake://given' }, RUNTIME);
    assert.deepEqual(await selectService(plan, environment), { source: 'env', service: 'from-env' });
    assert.deepEqual(calls, ['env:fake://given']);
    assert.equal(environment.probes, 0);
  });

  it('skips, naming the env var, when the server it names is unreachable — never falling back to another server', async function () {
    const { plan, calls } = fakePlan({ env: { unavailable: 'connection refused' }, container: 'from-container', local: 'from-local' });
    const selected = await selectService(plan, fakeEnvironment({ FAKE_URL: 'fake://down' }, RUNTIME));
    assert.deepEqual(selected, { skip: 'FAKE_URL=fake://down is set but FakeDB there cannot be reached (connection refused)' });
    assert.deepEqual(calls, ['env:fake://down']);
  });

  it('treats an empty env var as unset', async function () {
    const { plan, calls } = fakePlan({ container: 'from-container' });
    const selected = await selectService(plan, fakeEnvironment({ FAKE_URL: '' }, RUNTIME));
    assert.deepEqual(selected, { source: 'container', service: 'from-container' });
    assert.deepEqual(calls, ['container:unix:///fake/docker.sock']);
  });

  it('prefers a container when a runtime answers, and does not start the local server', async function () {
    const { plan, calls } = fakePlan({ container: 'from-container', local: 'from-local' });
    assert.deepEqual(await selectService(plan, fakeEnvironment({}, RUNTIME)), { source: 'container', service: 'from-container' });
    assert.deepEqual(calls, ['container:unix:///fake/docker.sock']);
  });

  it('falls back to the local server when no runtime answers, without trying to start a container', async function () {
    const { plan, calls } = fakePlan({ container: 'from-container', local: 'from-local' });
    const environment = fakeEnvironment({}, { unavailable: 'no container runtime' });
    assert.deepEqual(await selectService(plan, environment), { source: 'local', service: 'from-local' });
    assert.deepEqual(calls, ['local']);
    assert.equal(environment.probes, 1);
  });

  it('falls back to the local server when the container fails to start (a throw counts as a failure)', async function () {
    const { plan, calls } = fakePlan({ container: new Error('image pull failed\nstack…'), local: 'from-local' });
    assert.deepEqual(await selectService(plan, fakeEnvironment({}, RUNTIME)), { source: 'local', service: 'from-local' });
    assert.deepEqual(calls, ['container:unix:///fake/docker.sock', 'local']);
  });

  it('skips with one line giving every reason and every way to enable the suite', async function () {
    const { plan, calls } = fakePlan({ container: new Error('image pull failed\nstack…'), local: { unavailable: 'the fake server is not installed' } });
    const selected = await selectService(plan, fakeEnvironment({}, RUNTIME));
    assert.ok('skip' in selected);
    assert.equal(
      selected.skip,
      'no FakeDB: FAKE_URL is not set; the FakeDB container did not start (image pull failed); the fake server is not installed. ' +
        'To enable: set FAKE_URL=fake://host:1, or start a Docker engine (Testcontainers), or install the fake server',
    );
    assert.ok(!selected.skip.includes('\n'));
    assert.deepEqual(calls, ['container:unix:///fake/docker.sock', 'local']);
  });

  it('has no local step for a service with no embedded server (KurrentDB): it skips saying how to enable it', async function () {
    const selected = await selectService(kurrentdbPlan, fakeEnvironment({}, { unavailable: 'no container runtime (DOCKER_HOST is not set)' }));
    assert.deepEqual(selected, {
      skip:
        'no KurrentDB: KURRENTDB_URL is not set; no container runtime (DOCKER_HOST is not set). ' +
        'To enable: set KURRENTDB_URL=kurrentdb://127.0.0.1:2113?tls=false, or start a Docker engine (Testcontainers)',
    });
  });

  it('checks a KURRENTDB_URL with the real client and skips within seconds when nothing listens there', async function () {
    this.timeout(20_000);
    const probe = createServer();
    await listen(probe, 0);
    const port = (probe.address() as { port: number }).port;
    await close(probe);
    const started = Date.now();
    const selected = await selectService(kurrentdbPlan, fakeEnvironment({ KURRENTDB_URL: `kurrentdb://127.0.0.1:${port}?tls=false` }, RUNTIME));
    assert.ok('skip' in selected, JSON.stringify(selected));
    assert.match(selected.skip, new RegExp(`^KURRENTDB_URL=kurrentdb://127\\.0\\.0\\.1:${port}\\?tls=false is set but KurrentDB there cannot be reached \\(no node answered`));
    assert.ok(Date.now() - started < 12_000, `took ${Date.now() - started} ms`);
  });
});

describe('test services: container runtime detection is bounded', function () {
  let dir: string;
  const servers: (Server | HttpServer)[] = [];
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'runledger-services-'))));
  afterEach(async () => {
    await Promise.all(servers.splice(0).map(close));
    rmSync(dir, { recursive: true, force: true });
  });

  /** A unix socket that speaks Docker's /_ping. */
  async function fakeDocker(name: string): Promise<string> {
    const path = join(dir, name);
    const server = tracked(
      createHttpServer((req, res) => {
        res.writeHead(req.url === '/_ping' ? 200 : 404, { 'content-type': 'text/plain' }).end('OK');
      }),
    );
    servers.push(server);
    await listen(server, path);
    return `unix://${path}`;
  }

  /** A unix socket that accepts connections and never answers: the daemon that hangs. */
  async function silentSocket(name: string): Promise<string> {
    const path = join(dir, name);
    const server = tracked(createServer(() => undefined));
    servers.push(server);
    await listen(server, path);
    return `unix://${path}`;
  }

  it('lists endpoints in Testcontainers order: DOCKER_HOST, ~/.testcontainers.properties, then the default sockets', function () {
    writeFileSync(join(dir, '.testcontainers.properties'), 'docker.host=tcp://10.0.0.9:2375\n');
    const candidates = runtimeCandidates({ DOCKER_HOST: 'tcp://127.0.0.1:2375', XDG_RUNTIME_DIR: '/run/user/1000' }, dir, 1000).map((c) => c.dockerHost);
    assert.deepEqual(candidates, [
      'tcp://127.0.0.1:2375',
      'tcp://10.0.0.9:2375',
      'unix:///var/run/docker.sock',
      'unix:///run/user/1000/docker.sock',
      `unix://${dir}/.docker/run/docker.sock`,
      `unix://${dir}/.docker/desktop/docker.sock`,
      'unix:///run/user/1000/podman/podman.sock',
      'unix:///run/podman/podman.sock',
    ]);
  });

  it('answers at once when no socket exists (the docker CLI without an engine)', async function () {
    const started = Date.now();
    const found = await detectContainerRuntime({ env: {}, candidates: [{ dockerHost: `unix://${dir}/none.sock`, origin: 'test' }] });
    assert.deepEqual(found, { unavailable: 'no container runtime (DOCKER_HOST is not set and no Docker or Podman socket exists, e.g. /var/run/docker.sock)' });
    assert.ok(Date.now() - started < 200, `took ${Date.now() - started} ms`);
    const env = { DOCKER_HOST: `unix://${dir}/gone.sock` };
    assert.deepEqual(await detectContainerRuntime({ env, candidates: runtimeCandidates(env, dir).slice(0, 1) }), {
      unavailable: `no container runtime (DOCKER_HOST=unix://${dir}/gone.sock does not exist and no Docker or Podman socket exists, e.g. /var/run/docker.sock)`,
    });
  });

  it('gives up on a daemon that accepts connections but never answers, within the budget', async function () {
    const silent = await silentSocket('silent.sock');
    const started = Date.now();
    const found = await detectContainerRuntime({ env: {}, budgetMs: 1000, candidates: [{ dockerHost: silent, origin: 'test' }] });
    const elapsed = Date.now() - started;
    assert.deepEqual(found, { unavailable: `no container runtime answered (${silent} did not answer within 1000 ms)` });
    assert.ok(elapsed >= 900 && elapsed < 1500, `took ${elapsed} ms`);
  });

  it('finds a daemon that answers /_ping, even behind one that hangs, within the same budget', async function () {
    const silent = await silentSocket('silent.sock');
    const docker = await fakeDocker('docker.sock');
    const started = Date.now();
    const found = await detectContainerRuntime({
      env: {},
      budgetMs: 1000,
      candidates: [
        { dockerHost: silent, origin: 'test' },
        { dockerHost: docker, origin: 'test' },
      ],
    });
    assert.deepEqual(found, { dockerHost: docker, host: 'localhost' });
    assert.ok(Date.now() - started < 1500);
  });

  it('prefers the earlier of two answering daemons, as Testcontainers would', async function () {
    const first = await fakeDocker('first.sock');
    const second = await fakeDocker('second.sock');
    const found = await detectContainerRuntime({
      env: {},
      candidates: [
        { dockerHost: second, origin: 'test' },
        { dockerHost: first, origin: 'test' },
      ],
    });
    assert.deepEqual(found, { dockerHost: second, host: 'localhost' });
  });

  it('probes a tcp:// DOCKER_HOST over HTTP and reports its host for published ports', async function () {
    const server = tracked(createHttpServer((req, res) => res.writeHead(req.url === '/_ping' ? 200 : 404).end('OK')));
    servers.push(server);
    await listen(server, 0);
    const port = (server.address() as { port: number }).port;
    const env = { DOCKER_HOST: `tcp://127.0.0.1:${port}` };
    const found = await detectContainerRuntime({ env, candidates: runtimeCandidates(env, dir).slice(0, 1) });
    assert.deepEqual(found, { dockerHost: `tcp://127.0.0.1:${port}`, host: '127.0.0.1' });
  });

  it('does not count a socket that answers something other than Docker', async function () {
    const path = join(dir, 'other.sock');
    const server = tracked(createHttpServer((_req, res) => res.writeHead(404).end()));
    servers.push(server);
    await listen(server, path);
    const found = await detectContainerRuntime({ env: {}, candidates: [{ dockerHost: `unix://${path}`, origin: 'test' }] });
    assert.deepEqual(found, { unavailable: `no container runtime answered (unix://${path} answered HTTP 404 to /_ping)` });
  });

  it('can be turned off, and then probes nothing', async function () {
    const silent = await silentSocket('silent.sock');
    const started = Date.now();
    const found = await detectContainerRuntime({ env: { RUNLEDGER_TEST_CONTAINERS: '0' }, candidates: [{ dockerHost: silent, origin: 'test' }] });
    assert.deepEqual(found, { unavailable: 'containers are turned off (RUNLEDGER_TEST_CONTAINERS=0)' });
    assert.ok(Date.now() - started < 100);
  });
});
