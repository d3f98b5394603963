// Every command group registers itself here, one line each.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { registerLedgerCommands } from './ledger.js';

export type RegisterCommands = (program: Command, ctx: CliContext) => void;

export const commandGroups: RegisterCommands[] = [registerLedgerCommands];
