// The Node story: every package the lockfile installs accepts every Node version package.json's
// `engines` promises, so `npm ci` on a supported runtime prints no EBADENGINE warning. Optional
// packages for other platforms are never installed here and are left out.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { repoRoot } from './support/cli.js';

const semver = createRequire(import.meta.url)('semver') as { subset(sub: string, dom: string): boolean; satisfies(v: string, range: string): boolean };

interface LockPackage {
  version?: string;
  engines?: { node?: string } | string[];
  optional?: boolean;
  os?: string[];
  cpu?: string[];
}

const OTHER_PLATFORM = (p: LockPackage): boolean =>
  p.optional === true && ((p.os !== undefined && !p.os.includes(process.platform)) || (p.cpu !== undefined && !p.cpu.includes(process.arch)));

/** Lockfile entries whose engines.node does not cover `range`. */
export function enginesOutside(lock: { packages: Record<string, LockPackage> }, range: string): string[] {
  return Object.entries(lock.packages).flatMap(([path, p]) => {
    const node = Array.isArray(p.engines) ? undefined : p.engines?.node;
    if (path === '' || node === undefined || OTHER_PLATFORM(p)) return [];
    return semver.subset(range, node) ? [] : [`${path.replace(/^.*node_modules\//, '')}@${p.version} wants node ${node}`];
  });
}

describe('Node engines', () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { engines: { node: string }; overrides?: Record<string, string> };
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockPackage> };

  it('supports Node 20 and 22+, and the runtime running this test', () => {
    assert.ok(semver.satisfies('20.19.0', pkg.engines.node) && semver.satisfies('22.13.0', pkg.engines.node) && semver.satisfies('24.0.0', pkg.engines.node));
    assert.ok(semver.satisfies(process.versions.node, pkg.engines.node), `Node ${process.versions.node} is outside engines ${pkg.engines.node}`);
  });

  it('installs nothing that would warn EBADENGINE on a supported Node', () => {
    assert.deepEqual(enginesOutside(lock, pkg.engines.node), []);
  });

  it('would catch fastify 5\'s cookie@2 and content-disposition@3 (Node >= 22 only) without the overrides', () => {
    const unpinned = { packages: { ...lock.packages, 'node_modules/cookie': { version: '2.0.2', engines: { node: '>=22' } }, 'node_modules/content-disposition': { version: '3.0.0', engines: { node: '>=22' } } } };
    assert.deepEqual(enginesOutside(unpinned, pkg.engines.node), ['cookie@2.0.2 wants node >=22', 'content-disposition@3.0.0 wants node >=22']);
    assert.deepEqual(pkg.overrides, { 'content-disposition': '^2.0.1', cookie: '^1.1.1' });
  });
});
