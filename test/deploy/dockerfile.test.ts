// The Dockerfile, checked without a container engine: lint-level rules (lint.ts) and what this image
// in particular needs (a native toolchain to build better-sqlite3, nothing of it at run time).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/cli.js';
import { dockerStages, lintDockerfile, pinnedImage } from './lint.js';

const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');

describe('Dockerfile', function () {
  it('passes the lint rules: multi-stage, pinned bases, non-root, no piped installers, exec-form entrypoint', function () {
    assert.deepEqual(lintDockerfile(dockerfile), []);
  });

  it('builds better-sqlite3 in a build stage with python3, make and g++, and ships only production dependencies', function () {
    const stages = dockerStages(dockerfile);
    const build = stages.find((s) => s.name === 'build')!;
    const runs = build.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');
    for (const tool of ['python3', 'make', 'g++']) assert.match(runs, new RegExp(`apt-get install[^\\n]*\\s${tool.replace('+', '\\+')}(\\s|$)`), tool);
    assert.match(runs, /npm ci\b/);
    assert.match(runs, /npm prune --omit=dev/);
    const runtime = stages[stages.length - 1]!;
    const copies = runtime.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args);
    assert.ok(copies.some((c) => /--from=build \/app\/node_modules/.test(c)), 'runtime copies the pruned node_modules');
    assert.ok(!runtime.instructions.some((i) => i.keyword === 'RUN' && /npm (ci|install)/.test(i.args)), 'no install at the runtime stage');
  });

  it('starts the CLI the repository ships and keeps state in the /data volume', function () {
    const runtime = dockerStages(dockerfile).pop()!;
    const entrypoint = runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT')!;
    assert.deepEqual(JSON.parse(entrypoint.args), ['node', '/app/bin/runledger.js']);
    assert.ok(existsSync(join(repoRoot, 'bin', 'runledger.js')));
    assert.ok(runtime.instructions.some((i) => i.keyword === 'ENV' && /RUNLEDGER_HOME=\/data/.test(i.args)));
    assert.ok(runtime.instructions.some((i) => i.keyword === 'VOLUME' && i.args.includes('/data')));
  });

  it('keeps local state and dependencies out of the build context (.dockerignore)', function () {
    const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const entry of ['.git', 'node_modules', 'dist', '.runledger', '.env']) assert.ok(ignored.includes(entry), entry);
  });
});

describe('Dockerfile rules (lint.ts) catch what they are for', function () {
  const good = [
    'FROM node:22.22.0-bookworm-slim AS build',
    'RUN apt-get update \\',
    ' && apt-get install -y python3',
    'RUN npm ci',
    'FROM node:22.22.0-bookworm-slim',
    'COPY --from=build /app /app',
    'USER 1000:1000',
    'ENTRYPOINT ["node", "/app/bin/runledger.js"]',
  ];
  const variant = (index: number, line: string | null): string => good.map((l, i) => (i === index ? line : l)).filter((l) => l !== null).join('\n');

  it('accepts the good example', function () {
    assert.deepEqual(lintDockerfile(good.join('\n')), []);
  });

  const cases: [string, string, RegExp][] = [
    ['a single stage', good.slice(4).join('\n').replace('--from=build ', ''), /multi-stage build expected/],
    ['a base image tagged latest', variant(0, 'FROM node:latest AS build'), /node:latest is not pinned/],
    ['an untagged base image', variant(4, 'FROM node'), /base image node is not pinned/],
    ['no USER in the final stage', variant(6, null), /sets no USER/],
    ['USER root in the final stage', variant(6, 'USER root'), /runs as root/],
    ['USER 0 in the final stage', variant(6, 'USER 0:0'), /runs as root/],
    ['curl piped into a shell', variant(3, 'RUN curl -fsSL https://example.test/install.sh | bash'), /downloads a script into a shell/],
    ['wget piped into sh across a continuation', variant(3, 'RUN wget -qO- https://example.test/i.sh \\\n  | sh'), /downloads a script into a shell/],
    ['ADD of a URL', variant(3, 'ADD https://example.test/tool.tgz /opt/'), /ADD fetches a URL/],
    ['npm install instead of npm ci', variant(3, 'RUN npm install'), /npm install ignores the lockfile/],
    ['COPY --from an unknown stage', variant(5, 'COPY --from=builder /app /app'), /names no earlier stage/],
    ['a toolchain in the final stage', variant(5, 'RUN apt-get install -y g++'), /final stage installs packages/],
    ['a shell-form entrypoint', variant(7, 'ENTRYPOINT node /app/bin/runledger.js'), /ENTRYPOINT in shell form/],
  ];
  for (const [what, text, expected] of cases) {
    it(`refuses ${what}`, function () {
      const problems = lintDockerfile(text);
      assert.ok(problems.some((p) => expected.test(p)), `expected ${expected} in ${JSON.stringify(problems)}`);
    });
  }

  it('counts a digest or a versioned tag as pinned, and a registry port is not a tag', function () {
    assert.ok(pinnedImage(`node@sha256:${'a'.repeat(64)}`));
    assert.ok(pinnedImage('docker.kurrent.io/kurrent-lts/kurrentdb:26.0.3'));
    assert.ok(!pinnedImage('localhost:5000/runledger'));
    assert.ok(!pinnedImage('postgres:alpine'));
  });
});
