// runledger backup --out FILE / runledger restore FILE --to URL (src/backup/, docs/operations.md).
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { hasSigningKey, loadVerifierKey } from '../../ledger/keys.js';
import { writeBackup } from '../../backup/backup.js';
import { restoreBackup } from '../../backup/restore.js';
import { ExitCode, withJson, type CliContext } from '../context.js';
import { lazyProgress } from './train.js';

export function registerBackupCommands(program: Command, ctx: CliContext): void {
  const keysOf = (given: string[] | undefined): string[] => given ?? (hasSigningKey(ctx.home()) ? [loadVerifierKey(ctx.home())] : []);

  withJson(program.command('backup'))
    .description('write an online, consistent backup of the ledger (the integrated log, its checkpoints and origin) in the portable runledger-backup format')
    .requiredOption('--out <file>', 'the backup file to create (never overwritten)')
    .option('--verify', 'also verify every event and checkpoint as it is written (the checks of "runledger verify")')
    .option('--key <vkey...>', 'with --verify: trusted verifier key(s) (default: the home key)')
    .action(async (opts: { out: string; json?: boolean; verify?: boolean; key?: string[] }) => {
      const store = await ctx.store();
      const keys = opts.verify ? keysOf(opts.key) : [];
      if (opts.verify && keys.length === 0) throw new InputError('--verify needs a verifier key: pass --key <vkey>', { field: '--key' });
      const tree = await store.treeState();
      const bar = ctx.progress('backup', tree.size, opts.json ?? false);
      let report;
      try {
        report = await writeBackup(store, opts.out, { verifierKeys: keys, onProgress: (done) => bar.update(done) });
      } finally {
        bar.stop();
      }
      const failed = report.verification !== null && !report.verification.ok;
      ctx.print(opts.json ?? false, report, () =>
        [
          `Backed up ${report.events} events and ${report.checkpoints} checkpoints of ${report.origin} to ${report.file} (${report.bytes} bytes before compression, sha256 ${report.sha256})`,
          ...(report.pendingEvents > 0 ? [`${report.pendingEvents} events were not integrated yet and are not in this backup: run "runledger checkpoint" first to include them`] : []),
          ...(report.verification === null ? [] : [failed ? `the ledger does NOT verify: ${report.verification.firstDivergence?.message ?? 'verification failed'} (restore will refuse this backup)` : `verified as written: ${report.verification.checkpoints} checkpoints`]),
        ].join('\n'),
      );
      if (failed) throw new ExitCode(1);
    });

  withJson(program.command('restore'))
    .description('restore a backup into a new, empty store and verify the whole log against the signed checkpoints before declaring success')
    .argument('<file>', 'a runledger-backup file')
    .requiredOption('--to <url>', 'the store to create: sqlite:<new file>, or an empty postgres://… database')
    .option('--key <vkey...>', 'trusted verifier key(s) (default: the home key)')
    .action(async (file: string, opts: { to: string; json?: boolean; key?: string[] }) => {
      const bar = lazyProgress(ctx, 'restore', opts.json ?? false);
      let report;
      try {
        report = await restoreBackup(file, opts.to, { verifierKeys: keysOf(opts.key), onProgress: (done, total) => bar.update(done, total) });
      } finally {
        bar.stop();
      }
      ctx.print(opts.json ?? false, report, () =>
        `Restored and verified ${report.events} events in ${report.streams} streams and ${report.checkpoints} checkpoints into ${report.target}; root ${report.root}` +
        (report.anchoredEvents < report.events ? ` (${report.events - report.anchoredEvents} events after the latest signed checkpoint: chain-checked, not yet signed)` : ''),
      );
    });
}
