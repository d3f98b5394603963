// Ledger commands: init, append, events, checkpoint, verify, proof, keys.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';

export function registerLedgerCommands(_program: Command, _ctx: CliContext): void {}
