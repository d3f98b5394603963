// runledger [--store URL] [--home DIR] [--debug] <command>
// Exit codes: 0 ok; 1 verification or hard gate failed; 2 bad input or usage; 3 store or service unavailable.
import { Command, CommanderError } from 'commander';
import { LedgerError } from '../errors.js';
import { CliContext, ExitCode } from './context.js';
import { commandGroups } from './commands/index.js';
import { requireSubcommands } from './usage.js';
import { runledgerVersion } from '../version.js';

export { ExitCode };

export function buildProgram(ctx?: CliContext): { program: Command; ctx: CliContext } {
  const program = new Command('runledger')
    .description('Event-sourced, tamper-evident ledger for ML governance and training')
    .version(runledgerVersion(), '-V, --version')
    .option('--store <url>', 'store URL: sqlite:<path>, postgres://…, kurrentdb://… (env RUNLEDGER_STORE)')
    .option('--home <dir>', 'home for keys, checkpoints and artifacts (env RUNLEDGER_HOME, default ./.runledger)')
    .option('--debug', 'print stack traces on errors')
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'runledger: ')) });
  const context = ctx ?? new CliContext(program);
  for (const register of commandGroups) register(program, context);
  for (const sub of program.commands) sub.exitOverride();
  requireSubcommands(program);
  return { program, ctx: context };
}

export async function main(argv: string[]): Promise<number> {
  const { program, ctx } = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    return reportError(err, ctx);
  } finally {
    await ctx.close();
  }
}

function reportError(err: unknown, ctx: CliContext): number {
  if (err instanceof ExitCode) return err.code;
  if (err instanceof CommanderError) {
    // help and version end with code 0; every usage problem is exit 2.
    if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
    return 2;
  }
  const debug = ctx.globals.debug ?? false;
  if (err instanceof LedgerError) {
    ctx.note(`runledger: ${err.message}`);
    if (debug) ctx.note(err.stack ?? '');
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  ctx.note(`runledger: internal error: ${message}${debug ? '' : ' (run with --debug for details)'}`);
  if (debug && err instanceof Error) ctx.note(err.stack ?? '');
  return 1;
}
