// The Chromium the browser suites drive (playwright-core never downloads one): RUNLEDGER_CHROMIUM,
// else the first of the usual names on PATH, else undefined with the reason to print.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function findChromium(env: NodeJS.ProcessEnv = process.env): { path: string } | { skip: string } {
  const given = env.RUNLEDGER_CHROMIUM;
  if (given) return executable(given) ? { path: given } : { skip: `RUNLEDGER_CHROMIUM=${given} is not an executable` };
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    for (const name of NAMES) if (executable(join(dir, name))) return { path: join(dir, name) };
  }
  return { skip: `no Chromium: none of ${NAMES.join(', ')} is on PATH; install one (apt-get install chromium) or set RUNLEDGER_CHROMIUM` };
}
