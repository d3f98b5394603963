// Every command group registers itself here, one line each; src/cli/help.ts groups them for --help.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { registerLedgerCommands } from './ledger.js';
import { registerCatalogCommand } from './catalog.js';
import { registerGovernanceCommands } from './governance.js';
import { registerServeCommand } from './serve.js';
import { registerTrainingCommands } from './train.js';
import { registerProjectCommands } from './project.js';
import { registerCompareCommands } from './compare.js';
import { registerBenchCompareCommand } from './bench-compare.js';
import { registerKafkaCommands } from './kafka.js';
import { registerRunsCommand } from './runs.js';
import { registerMigrateCommand } from './migrate.js';
import { registerModelCommands } from './model.js';
import { registerBackupCommands } from './backup.js';
import { registerWitnessCommands } from './witness.js';

export type RegisterCommands = (program: Command, ctx: CliContext) => void;

export const commandGroups: RegisterCommands[] = [
  registerLedgerCommands,
  registerCatalogCommand,
  registerServeCommand,
  registerGovernanceCommands,
  registerRunsCommand,
  registerTrainingCommands,
  registerProjectCommands,
  registerCompareCommands,
  registerBenchCompareCommand,
  registerKafkaCommands,
  registerMigrateCommand,
  registerModelCommands,
  registerBackupCommands,
  registerWitnessCommands,
];
