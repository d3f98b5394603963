// Every command group registers itself here, one entry each: the top-level commands it defines and
// how to load it. A group's module (and everything it imports) loads only when one of its commands
// runs, or when help lists them all, so `--version` and `events` start fast (docs/benchmarks.md,
// "CLI start-up"). src/cli/help.ts groups the commands for --help; test/cli/startup.test.ts checks
// that each entry's names are exactly the commands its module registers.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';

export type RegisterCommands = (program: Command, ctx: CliContext) => void;

export interface CommandGroup {
  /** The top-level command names the module registers. */
  readonly commands: readonly string[];
  readonly load: () => Promise<RegisterCommands>;
}

export const commandGroups: readonly CommandGroup[] = [
  { commands: ['init', 'append', 'events', 'checkpoint', 'verify', 'proof', 'keys'], load: async () => (await import('./ledger.js')).registerLedgerCommands },
  { commands: ['catalog'], load: async () => (await import('./catalog.js')).registerCatalogCommand },
  { commands: ['serve'], load: async () => (await import('./serve.js')).registerServeCommand },
  { commands: ['plan', 'stage', 'run', 'replay', 'export', 'verify-bundle'], load: async () => (await import('./governance.js')).registerGovernanceCommands },
  { commands: ['runs'], load: async () => (await import('./runs.js')).registerRunsCommand },
  { commands: ['train', 'retrain', 'campaign', 'submit', 'worker', 'demo'], load: async () => (await import('./train.js')).registerTrainingCommands },
  { commands: ['project'], load: async () => (await import('./project.js')).registerProjectCommands },
  { commands: ['compare', 'gate', 'rederive', 'budgets'], load: async () => (await import('./compare.js')).registerCompareCommands },
  { commands: ['bench-compare'], load: async () => (await import('./bench-compare.js')).registerBenchCompareCommand },
  { commands: ['relay', 'ingest'], load: async () => (await import('./kafka.js')).registerKafkaCommands },
  { commands: ['migrate'], load: async () => (await import('./migrate.js')).registerMigrateCommand },
  { commands: ['model'], load: async () => (await import('./model.js')).registerModelCommands },
  { commands: ['backup', 'restore'], load: async () => (await import('./backup.js')).registerBackupCommands },
  { commands: ['witness'], load: async () => (await import('./witness.js')).registerWitnessCommands },
];

/**
 * The groups a command line needs: none for a bare `--version`, the one group that defines the
 * command named, and every group otherwise (help, a bare `runledger`, a misspelt command — so the
 * overview and commander's suggestions see every command).
 */
export function groupsFor(command: string | undefined, versionOnly: boolean): readonly CommandGroup[] {
  if (command === undefined && versionOnly) return [];
  const group = command === undefined ? undefined : commandGroups.find((g) => g.commands.includes(command));
  return group ? [group] : commandGroups;
}
