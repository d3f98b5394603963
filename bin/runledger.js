#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript under dist/.
import { main } from '../dist/src/cli/main.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});
