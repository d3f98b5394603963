// A command group invoked without its subcommand (`runledger project`) answers with one line
// naming the subcommands, exit 2 — not the whole help text, which `--help` still prints.
import type { Command } from 'commander';
import { InputError } from '../errors.js';

/** Gives every command that has subcommands (at any depth) a one-line usage error as its default action. */
export function requireSubcommands(program: Command): void {
  for (const command of program.commands) {
    if (command.commands.length === 0) continue;
    requireSubcommands(command);
    const path = commandPath(command);
    const names = command.commands.map((c) => c.name()).filter((name) => name !== 'help');
    command.allowExcessArguments(true).action(function (this: Command) {
      const given = this.args[0];
      throw new InputError(
        given === undefined
          ? `"${path}" needs a subcommand: ${names.join(', ')} ("${path} --help" describes them)`
          : `"${path}" has no subcommand "${given}"; expected one of ${names.join(', ')}`,
        { field: 'command' },
      );
    });
  }
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}
