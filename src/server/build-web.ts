// Bundles the dashboard pages (src/server/web) with esbuild into dist/web: index.html plus
// assets/app.js, assets/app.css and the icon — everything local, nothing from a CDN. Run after tsc by
// `npm run build` (`node dist/src/server/build-web.js`).
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest directory above this file with a package.json. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above build-web');
    dir = parent;
  }
  return dir;
}

export interface WebBuild {
  outDir: string;
  files: string[];
}

export async function buildWeb(options: { outDir?: string; minify?: boolean } = {}): Promise<WebBuild> {
  const root = repoRoot();
  const source = join(root, 'src', 'server', 'web');
  const outDir = options.outDir ?? join(root, 'dist', 'web');
  // esbuild is a build-time tool (devDependency): imported only here, never by the server.
  const { build } = await import('esbuild');
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(join(outDir, 'assets'), { recursive: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: { app: join(source, 'main.ts') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    outdir: join(outDir, 'assets'),
    minify: options.minify ?? true,
    sourcemap: false,
    legalComments: 'linked',
    tsconfig: join(source, 'tsconfig.json'),
    logLevel: 'silent',
    metafile: true,
  });
  copyFileSync(join(source, 'index.html'), join(outDir, 'index.html'));
  copyFileSync(join(source, 'favicon.svg'), join(outDir, 'assets', 'favicon.svg'));
  const files = ['index.html', 'assets/favicon.svg', ...Object.keys(result.metafile.outputs).map((p) => p.slice(p.indexOf('assets/')))].sort();
  return { outDir, files };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildWeb()
    .then((b) => process.stdout.write(`dashboard bundle: ${b.files.join(', ')} in ${b.outDir}\n`))
    .catch((err: unknown) => {
      process.stderr.write(`build-web: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
