// runledger migrate: copy a ledger to another store and verify the copy (src/ledger/migrate.ts).
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { hasSigningKey, loadVerifierKey } from '../../ledger/keys.js';
import { migrateLedger, type MigrateOptions } from '../../ledger/migrate.js';
import { openStore } from '../../store/open.js';
import type { EventStore } from '../../store/port.js';
import { withJson, type CliContext, type Progress } from '../context.js';

export function registerMigrateCommand(program: Command, ctx: CliContext): void {
  withJson(program.command('migrate'))
    .description('copy the ledger event by event into an empty store (same bytes, leaf indices, signed checkpoints and origin), then verify the copy')
    .requiredOption('--to <url>', 'the empty target store: sqlite:<path>, postgres://…, kurrentdb://…')
    .option('--from <url>', 'the source store (default: --store, RUNLEDGER_STORE or the home ledger)')
    .option('--key <vkey...>', 'trusted verifier key(s) of the source\'s checkpoints (default: the home key)')
    .action(async (opts: { to: string; from?: string; key?: string[]; json?: boolean }) => {
      const keys = opts.key ?? (hasSigningKey(ctx.home()) ? [loadVerifierKey(ctx.home())] : []);
      if (keys.length === 0) throw new InputError('no verifier key: pass --key <vkey> (the signer\'s "runledger keys show")', { field: '--key' });
      const fromUrl = opts.from ?? ctx.storeUrl();
      if (fromUrl === opts.to) throw new InputError(`--to names the source store ${opts.to}: migrate into another store`, { field: '--to' });
      const stores: EventStore[] = [];
      let bar: Progress | undefined;
      let phase = '';
      try {
        const source = await openStore(fromUrl, { readonly: true });
        stores.push(source);
        const target = await openStore(opts.to);
        stores.push(target);
        const onProgress: MigrateOptions['onProgress'] = (next, done, total) => {
          if (next !== phase) {
            bar?.stop();
            phase = next;
            bar = ctx.progress(next, total, opts.json ?? false);
          }
          bar?.update(done);
        };
        const report = await migrateLedger(source, target, { verifierKeys: keys, onProgress });
        bar?.stop();
        bar = undefined;
        ctx.print(opts.json ?? false, report, () =>
          [
            `Migrated ${report.events} events in ${report.streams} streams and ${report.checkpoints} signed checkpoints`,
            `  from ${report.from}`,
            `  to   ${report.to}`,
            `origin: ${report.origin}`,
            `root:   ${report.targetRoot} (tree size ${report.treeSize}, the same as the source)`,
            'The target verifies: every leaf, chain, root, signature and consistency proof recomputed from its bytes.',
          ].join('\n'),
        );
      } finally {
        bar?.stop();
        await Promise.allSettled(stores.map((s) => s.close()));
      }
    });
}
