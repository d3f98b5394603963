// The dashboard bundle the server tests serve: built once per test process into a temp directory
// with the same build function `npm run build` uses, so tests never depend on a stale dist/web.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWeb } from '../../src/server/build-web.js';

let built: Promise<string> | undefined;

export function webAssets(): Promise<string> {
  built ??= buildWeb({ outDir: join(mkdtempSync(join(tmpdir(), 'runledger-web-')), 'web') }).then((b) => b.outDir);
  return built;
}
