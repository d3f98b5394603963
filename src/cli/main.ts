// runledger [--store URL] [--home DIR] [--debug] <command>
// Exit codes: 0 ok; 1 verification or hard gate failed; 2 bad input or usage; 3 store or service unavailable.
import { Command, CommanderError } from 'commander';
import { InputError, LedgerError, type ErrorLocation } from '../errors.js';
import { CliContext, ExitCode } from './context.js';
import { groupsFor } from './commands/index.js';
import { allCommands, applyHelp, commandPath, registerHelpCommand } from './help.js';
import { runledgerVersion } from '../version.js';

/**
 * The program with the commands `argv` needs (all of them without `argv`): the root and its global
 * options are cheap; each command group loads its module only when needed (src/cli/commands/index.ts).
 */
export async function buildProgram(ctx?: CliContext, argv?: readonly string[]): Promise<{ program: Command; ctx: CliContext }> {
  const program = new Command('runledger')
    .description('Event-sourced, tamper-evident ledger for ML governance and training')
    .version(runledgerVersion(), '-V, --version')
    .option('--store <url>', 'store URL: sqlite:<path>, postgres://…, kurrentdb://… (env RUNLEDGER_STORE; "runledger help stores")')
    .option('--home <dir>', 'home for keys, checkpoints and artifacts (env RUNLEDGER_HOME, default ./.runledger)')
    .option('--debug', 'print stack traces on errors')
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'runledger: ')) });
  const context = ctx ?? new CliContext(program);
  const wanted = argv ? commandLine(program, argv) : { command: undefined, versionOnly: false };
  const groups = groupsFor(wanted.command, wanted.versionOnly);
  // Loaded together, registered in table order: the same program whichever modules load first.
  const registers = await Promise.all(groups.map((g) => g.load()));
  for (const register of registers) register(program, context);
  registerHelpCommand(program, context);
  applyHelp(program);
  for (const { command } of allCommands(program)) {
    command.exitOverride();
    requireSubcommand(command);
  }
  return { program, ctx: context };
}

/**
 * The command a command line names (its first word after the root's own options and their values)
 * and whether the root's --version comes first. A root --help before any command means every command.
 */
function commandLine(program: Command, argv: readonly string[]): { command: string | undefined; versionOnly: boolean } {
  const args = argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return { command: args[i + 1], versionOnly: false };
    if (!arg.startsWith('-')) return { command: arg, versionOnly: false };
    if (arg === '-V' || arg === '--version') return { command: undefined, versionOnly: true };
    if (arg === '-h' || arg === '--help') return { command: undefined, versionOnly: false };
    const option = program.options.find((o) => o.long === arg || o.short === arg);
    if (option && (option.required || option.optional)) i++;
  }
  return { command: undefined, versionOnly: false };
}

/**
 * A group such as `proof` or `keys` given no (or an unknown) subcommand is a usage error naming
 * the subcommands, not a help page on stderr with nothing said. Commander keeps the action handler
 * private; a group that has one of its own keeps it.
 */
function requireSubcommand(command: Command): void {
  const names = command.commands.map((c) => c.name()).filter((n) => n !== 'help');
  if (names.length === 0 || (command as unknown as { _actionHandler?: unknown })._actionHandler) return;
  const path = commandPath(command);
  command.allowExcessArguments(true).action((_opts: unknown, self: Command) => {
    const given = self.args[0];
    const choice = `${names.join(', ')} (see "runledger help ${path}")`;
    throw new InputError(given === undefined ? `${path} needs a subcommand: ${choice}` : `unknown subcommand "${path} ${given}": use one of ${choice}`, { field: 'command' });
  });
}

export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipe(process.stdout);
  quietOnClosedPipe(process.stderr);
  const { program, ctx } = await buildProgram(undefined, argv);
  let action: Command | undefined;
  program.hook('preAction', (_root, actionCommand) => void (action = actionCommand));
  try {
    // `runledger` alone asks what there is: the overview, on stdout.
    if (argv.length <= 2) {
      program.outputHelp();
      return 0;
    }
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    return reportError(err, ctx, wantsJson(argv, action));
  } finally {
    await ctx.close();
  }
}

/**
 * `runledger events --json | head -1`: once the reader has gone, further output has nowhere to go.
 * Swallow EPIPE quietly (no stack trace) and let the command end with its own exit code.
 */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}

/** --json of the command that ran, or on the command line when parsing failed before any action. */
function wantsJson(argv: string[], action: Command | undefined): boolean {
  if (action) return action.opts<{ json?: boolean }>().json === true;
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).slice(2).includes('--json');
}

interface JsonError {
  ok: false;
  error: { message: string; exitCode: number; type: string } & ErrorLocation & { code?: string };
}

function reportError(err: unknown, ctx: CliContext, json: boolean): number {
  // The command printed its own report (verification failed, hard gate breach): nothing to add.
  if (err instanceof ExitCode) return err.code;
  const fail = (message: string, exitCode: number, type: string, extra: Partial<JsonError['error']> = {}): number => {
    if (json) ctx.print(true, { ok: false, error: { message, exitCode, type, ...extra } } satisfies JsonError, () => '');
    return exitCode;
  };
  if (err instanceof CommanderError) {
    // help and version end with code 0; every usage problem is exit 2 (commander already said what on stderr).
    if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
    return fail(err.message.replace(/^error: /, ''), 2, 'UsageError', { code: err.code });
  }
  const debug = ctx.globals.debug ?? false;
  const style = ctx.errorStyle;
  if (err instanceof LedgerError) {
    ctx.note(`${style.status('fail', 'runledger:')} ${err.message}`);
    if (debug) ctx.note(err.stack ?? '');
    return fail(err.message, err.exitCode, err.name, err.location);
  }
  const message = err instanceof Error ? err.message : String(err);
  ctx.note(`${style.status('fail', 'runledger:')} internal error: ${message}${debug ? '' : ' (run with --debug for details)'}`);
  if (debug && err instanceof Error) ctx.note(err.stack ?? '');
  return fail(`internal error: ${message}`, 1, 'InternalError');
}
