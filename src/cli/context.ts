// What every command needs: where the home and store are, how to open them, how to report.
// Commands stay thin; the work is done by src/ledger, src/replay and the store adapters.
import { createRequire } from 'node:module';
import type { Command } from 'commander';
import type { EventStore } from '../store/port.js';
import { openLedgerStore } from '../store/open.js';
import { defaultActor, ledgerHome, ledgerStoreUrl } from '../ledger/location.js';
import { styleFor, type Style } from './style.js';

/** Thrown by actions to end with a given exit code after they have printed their report. */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

export interface GlobalOptions {
  store?: string;
  home?: string;
  debug?: boolean;
}

export interface Progress {
  update(done: number): void;
  stop(): void;
}

export class CliContext {
  private readonly openStores: EventStore[] = [];

  constructor(
    private readonly program: Command,
    readonly env: NodeJS.ProcessEnv = process.env,
    readonly stdout: NodeJS.WriteStream = process.stdout,
    readonly stderr: NodeJS.WriteStream = process.stderr,
  ) {}

  get globals(): GlobalOptions {
    return this.program.opts<GlobalOptions>();
  }

  // An empty variable counts as unset: CI systems expand a secret that is not configured to "".

  /** --home, else RUNLEDGER_HOME, else ./.runledger; always absolute. */
  home(): string {
    return ledgerHome(this.globals.home, this.env);
  }

  /** --store, else RUNLEDGER_STORE, else the embedded store in the home. */
  storeUrl(): string {
    return ledgerStoreUrl(this.globals.store, this.home(), this.env);
  }

  /** Who the events' metadata names: RUNLEDGER_ACTOR, else the OS user. */
  actor(): string {
    return defaultActor(this.env);
  }

  /**
   * Opens the configured store. Unless `create` is set, an embedded store that does not exist yet
   * is an error pointing at `runledger init` rather than a silently created empty ledger.
   */
  async store(options: { create?: boolean } = {}): Promise<EventStore> {
    const store = await openLedgerStore(this.storeUrl(), { ...options, missingHint: 'run "runledger init" first (or set --store / RUNLEDGER_STORE)' });
    this.openStores.push(store);
    return store;
  }

  /** Colour and symbols for what goes to stdout: on a terminal only (NO_COLOR, FORCE_COLOR respected). */
  get style(): Style {
    return styleFor(this.stdout, this.env);
  }

  /** The same for stderr (notes, errors, progress). */
  get errorStyle(): Style {
    return styleFor(this.stderr, this.env);
  }

  /** Writes one JSON document (--json) or human text to stdout. */
  print(json: boolean, value: unknown, human: () => string): void {
    this.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
  }

  /** One line to stderr for notes and warnings; never mixed into --json stdout. */
  note(message: string): void {
    this.stderr.write(`${message}\n`);
  }

  /** A progress bar on an interactive terminal; silent in pipes, CI and --json runs. */
  progress(label: string, total: number, json = false): Progress {
    if (json || !this.stderr.isTTY || this.env.CI) return { update() {}, stop() {} };
    // Loaded only when a bar is drawn: start-up stays cheap (docs/benchmarks.md, "CLI start-up").
    const { SingleBar, Presets } = createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress');
    const bar = new SingleBar(
      // cli-progress tokens: {eta} is seconds, {eta_formatted} reads "42s" / "1m05s".
      { format: `${label} [{bar}] {value}/{total} {percentage}% eta {eta_formatted}`, stream: this.stderr, hideCursor: true },
      Presets.shades_classic,
    );
    bar.start(total, 0);
    return { update: (done) => bar.update(done), stop: () => bar.stop() };
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.openStores.splice(0).map((s) => s.close()));
  }
}

/** Every reporting command offers --json. */
export function withJson(command: Command): Command {
  return command.option('--json', 'print one JSON document instead of text');
}
