// The published package: `npm pack` ships the compiled core with its declarations, the CLI, the
// dashboard bundle and the docs — never the compiled tests or benches — and a scratch project that
// installs the tarball imports `runledger`, type-checks against its declarations, and runs the
// documented example (docs/examples/log_from_typescript.mjs) to a verified run. Offline: the tarball
// is unpacked into the scratch project's node_modules and its dependencies are the repository's own.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../support/cli.js';

interface PackEntry {
  filename: string;
  files: { path: string }[];
}

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 120_000, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } });
  assert.equal(result.status, 0, `${command} ${args.join(' ')}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

describe('the published package (npm pack)', function () {
  this.timeout(180_000);
  let scratch: string;
  let files: string[];

  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'runledger-pack-'));
    // The build already ran (tests are compiled JS): pack what it produced, without running prepare again.
    const out = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], repoRoot);
    const [entry] = JSON.parse(out.slice(out.indexOf('['))) as PackEntry[];
    files = entry!.files.map((f) => f.path);
    const project = join(scratch, 'project');
    const installed = join(project, 'node_modules', 'runledger');
    mkdirSync(installed, { recursive: true });
    run('tar', ['-xzf', join(scratch, entry!.filename), '-C', installed, '--strip-components=1'], scratch);
    // Dependencies: the repository's installed ones (offline, and no native rebuild).
    symlinkSync(join(repoRoot, 'node_modules'), join(installed, 'node_modules'), 'dir');
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module', dependencies: { runledger: `file:../${entry!.filename}` } }));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('ships the compiled core with declarations, the CLI, the dashboard and the docs, and no tests, benches or source maps', () => {
    assert.ok(files.includes('package.json'));
    assert.ok(files.includes('README.md'));
    assert.ok(files.includes('bin/runledger.js'));
    assert.ok(files.includes('dist/src/index.js'));
    assert.ok(files.includes('dist/src/index.d.ts'), 'declarations are shipped');
    assert.ok(files.includes('dist/events/runs.d.ts'));
    assert.ok(files.includes('dist/web/index.html'), 'the dashboard bundle is shipped');
    assert.ok(files.includes('docs/api.md'));
    assert.ok(files.includes('docs/examples/log_from_typescript.mjs'));
    const leaked = files.filter((f) => /^dist\/(test|bench|infra)\//.test(f) || f.endsWith('.map') || /^(src|test|bench)\//.test(f));
    assert.deepEqual(leaked, [], 'no tests, benches, harnesses, TypeScript sources or source maps');
  });

  it('declares its entry point and types in package.json exports', () => {
    const pkg = JSON.parse(readFileSync(join(scratch, 'project', 'node_modules', 'runledger', 'package.json'), 'utf8')) as { exports: Record<string, unknown>; types: string };
    assert.deepEqual(pkg.exports['.'], { types: './dist/src/index.d.ts', import: './dist/src/index.js' });
    assert.equal(pkg.types, './dist/src/index.d.ts');
  });

  it("acceptance: import { openLedger } from 'runledger' in a scratch project prints function", () => {
    const out = run(process.execPath, ['--input-type=module', '-e', "import { openLedger } from 'runledger'; console.log(typeof openLedger)"], join(scratch, 'project'));
    assert.equal(out, 'function\n');
  });

  it('type-checks a consumer against the shipped declarations (a wrong call is a type error)', () => {
    const project = join(scratch, 'project');
    const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const options = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--types', 'node', '--typeRoots', join(repoRoot, 'node_modules', '@types')];
    writeFileSync(
      join(project, 'good.mts'),
      [
        "import { openLedger, type RunHandle, type Ledger } from 'runledger';",
        "const ledger: Ledger = await openLedger('sqlite:x.db', { home: '.', create: true });",
        "const run: RunHandle = await ledger.startRun({ external: { name: 'x' }, params: { lr: 0.1 } });",
        "await run.logMetric('f1', 0.9, { step: 1 });",
        'await run.end();',
        '',
      ].join('\n'),
    );
    run(process.execPath, [tsc, ...options, 'good.mts'], project);
    writeFileSync(join(project, 'bad.mts'), "import { openLedger } from 'runledger';\nconst ledger = await openLedger();\nawait (await ledger.openRun('r')).logMetric('f1', 'high');\n");
    const bad = spawnSync(process.execPath, [tsc, ...options, 'bad.mts'], { cwd: project, encoding: 'utf8' });
    assert.notEqual(bad.status, 0, 'a string metric value must not type-check');
    assert.match(bad.stdout, /bad\.mts\(3,\d+\): error TS2345/);
  });

  it('runs docs/examples/log_from_typescript.mjs from the installed package to a verified run', () => {
    const project = join(scratch, 'project');
    const home = join(scratch, 'home');
    const out = run(process.execPath, [join(project, 'node_modules', 'runledger', 'docs', 'examples', 'log_from_typescript.mjs'), home], project);
    const report = JSON.parse(out) as { runId: string; artifact: string; verified: boolean };
    assert.equal(report.verified, true);
    assert.match(report.artifact, /^[0-9a-f]{64}$/);
  });
});
