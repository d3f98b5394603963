// Ledger commands: init, append, events, checkpoint, verify, proof, keys.
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { InputError, IntegrityError, UnavailableError } from '../../errors.js';
import { hasSigningKey, loadVerifierKey } from '../../ledger/keys.js';
import { ensureLedgerSigner, loadLedgerSigner } from '../../ledger/signer-state.js';
import { ensureOrigin, requireOrigin } from '../../ledger/origin.js';
import { decodeUtf8, readBoundedFile, readBoundedStream } from '../../input/decode.js';
import { LIMITS } from '../../input/limits.js';
import { type LedgerVerification } from '../../replay/ledger-verification.js';
import { ExitCode, withJson, type CliContext } from '../context.js';
import { count, type Style } from '../style.js';

// Modules that load the event schemas (zod), proofs, witnesses or worker threads are imported inside
// the actions that use them, so `events` and `--help` start fast (docs/benchmarks.md, "CLI start-up").

interface JsonFlag {
  json?: boolean;
}

export function registerLedgerCommands(program: Command, ctx: CliContext): void {
  withJson(program.command('init'))
    .description('create the store and the signing key (idempotent); prints the verifier key')
    .action(async (opts: JsonFlag) => {
      const store = await ctx.store({ create: true });
      await store.init();
      const { origin } = await ensureOrigin(store);
      const key = ensureLedgerSigner(ctx.home(), origin);
      const report = { home: ctx.home(), store: store.displayUrl, origin, verifierKey: key.verifierKey, keyCreated: key.created, signerState: key.state };
      ctx.print(opts.json ?? false, report, () =>
        [
          `${key.created ? 'Initialised' : 'Already initialised'}: ${store.displayUrl}`,
          `home:   ${report.home}`,
          `origin: ${origin}`,
          `verifier key (give this to auditors):`,
          `  ${key.verifierKey}`,
          ...(key.state === 'missing' ? [`the signer state (what this key last signed) is missing: the next checkpoint needs --adopt (docs/integrity.md, "The signer state")`] : []),
        ].join('\n'),
      );
    });

  withJson(program.command('append'))
    .description('append NDJSON events, one per line: {"stream","type","data","id"?,"metadata"?,"expectedRevision"?}; all or nothing; events on run streams must pass the write rules (docs/governance.md)')
    .argument('[file]', 'NDJSON file, or - for standard input', '-')
    .action(async (file: string, opts: JsonFlag) => {
      const { appendInput, checkAppendInput } = await import('../../governance/append-events.js');
      const source = file === '-' ? 'stdin' : file;
      const text = file === '-' ? await readStdin() : readAppendFile(file);
      const { parseAppendInput } = await import('../../ledger/append-input.js');
      const input = parseAppendInput(text, source);
      // Refuse the recorder's types and validate, with line numbers, before the store sees anything.
      // (validated once: the door and the store append the very batch checked here).
      const checked = checkAppendInput(input, source, ctx.actor());
      const report = await appendInput(await ctx.store(), checked, source);
      ctx.print(opts.json ?? false, report, () =>
        report.duplicate
          ? `Already recorded: ${count(input.events, 'event')} (idempotent retry), nothing appended`
          : `Appended ${count(input.events, 'event')} to ${count(report.streams, 'stream')} (positions ${report.firstPosition}..${report.lastPosition})`,
      );
    });

  withJson(program.command('events'))
    .description('read events back, in store order or from one stream')
    .option('--stream <name>', 'only this stream, in revision order')
    .option('--from <n>', 'first position (or revision with --stream)', parseNonNegative('--from'))
    .option('--limit <n>', 'at most this many events', parseNonNegative('--limit'))
    .action(async (opts: JsonFlag & { stream?: string; from?: number; limit?: number }) => {
      const store = await ctx.store();
      const events = opts.stream
        ? await store.readStream(opts.stream, { fromRevision: opts.from ?? 0, ...(opts.limit !== undefined ? { limit: opts.limit } : {}) })
        : await store.readAll({ after: (opts.from ?? 0) - 1, ...(opts.limit !== undefined ? { limit: opts.limit } : {}) });
      const rows = events.map((e) => ({ position: e.position, index: e.index, leafHash: e.leafHash, ...e.envelope }));
      ctx.print(opts.json ?? false, { count: rows.length, events: rows }, () =>
        rows.length === 0
          ? 'No events.'
          : rows.map((e) => `${String(e.position).padStart(6)}  ${e.stream}@${e.revision}  ${e.type}  ${e.id}  ${JSON.stringify(e.data)}`).join('\n'),
      );
    });

  withJson(program.command('checkpoint'))
    .description('integrate pending events, prove the tree extends the last checkpoint this key signed (its signer state), then sign and store a checkpoint')
    .option('--adopt [note-file]', 'only when the signer state is missing: take the store\'s latest checkpoint (or the signed note in FILE) as the last one this key signed')
    .option('--witness <url...>', 'then ask each C2SP tlog-witness at URL to cosign the checkpoint, and store the cosigned note')
    .option('--witness-key <vkey...>', 'with --witness: keep only cosignatures of these witness keys, verified')
    .option('--witness-token <token>', 'with --witness: bearer token sent to every witness URL (env RUNLEDGER_WITNESS_TOKEN; for witnesses you run with --token)')
    .action(async (opts: JsonFlag & { adopt?: string | true; witness?: string[]; witnessKey?: string[]; witnessToken?: string }) => {
      const [{ createCheckpoint }, { witnessCheckpoint }, { witnessPolicy }] = await Promise.all([import('../../ledger/checkpoint.js'), import('../../witness/client.js'), import('../../witness/policy.js')]);
      const store = await ctx.store();
      const origin = await requireOrigin(store);
      const adopt = opts.adopt === undefined ? undefined : opts.adopt === true ? ('store' as const) : { note: readInputFile(opts.adopt), source: opts.adopt };
      if (opts.witnessKey && !opts.witness) throw new InputError('--witness-key needs --witness URL', { field: '--witness-key' });
      const urls = (opts.witness ?? []).map(checkWitnessUrl);
      witnessPolicy(opts.witnessKey, undefined);
      const witnessToken = opts.witnessToken ?? ctx.env.RUNLEDGER_WITNESS_TOKEN;
      if (opts.witnessToken !== undefined && !opts.witness) throw new InputError('--witness-token needs --witness URL', { field: '--witness-token' });
      if (witnessToken !== undefined && !/^[\x21-\x7e]+$/.test(witnessToken)) throw new InputError('--witness-token must be printable ASCII without spaces (it is sent in an HTTP header)', { field: '--witness-token' });
      const outcome = await createCheckpoint(store, loadLedgerSigner(ctx.home()), origin, adopt ? { adopt } : {});
      let c = outcome.checkpoint;
      const witnessed = urls.length > 0 ? await witnessCheckpoint(store, c, urls, { ...(opts.witnessKey ? { witnessKeys: opts.witnessKey } : {}), ...(witnessToken !== undefined ? { token: witnessToken } : {}) }) : undefined;
      if (witnessed && witnessed.note !== c.note) {
        c = { ...c, note: witnessed.note, createdAt: new Date().toISOString() };
        await store.addCheckpoint(c);
      }
      const report = {
        created: outcome.created,
        size: c.size,
        root: c.root,
        note: c.note,
        previousSize: outcome.previous.size,
        previousRoot: outcome.previous.root,
        restored: outcome.restored,
        adopted: outcome.adopted ?? null,
        ...(witnessed ? { witnesses: witnessed.outcomes } : {}),
      };
      ctx.print(opts.json ?? false, report, () =>
        [
          ...(witnessed?.outcomes.map((w) => (w.result === 'cosigned' ? `Cosigned by witness ${w.url}: ${w.cosigners.join(', ') || 'no new cosignature'} (from its size ${w.oldSize})` : `NOT cosigned: ${w.reason}`)) ?? []),
          ...(outcome.adopted ? [`Adopted ${outcome.adopted.from} as the last checkpoint this key signed: size ${outcome.adopted.size}, root ${outcome.adopted.root}`] : []),
          ...(outcome.restored ? [`Stored checkpoint ${outcome.previous.size} again: the signer had signed it, the store had lost it`] : []),
          outcome.created
            ? `${ctx.style.status('ok', 'Signed checkpoint')} of ${count(c.size, 'event')}, root ${c.root} (extends checkpoint ${outcome.previous.size})`
            : `No new events; latest checkpoint of ${count(c.size, 'event')}, root ${c.root}`,
          '',
          c.note,
        ].join('\n'),
      );
      const failed = witnessed?.outcomes.filter((w) => w.result !== 'cosigned') ?? [];
      if (failed.length > 0) {
        // The checkpoint is signed and stored either way; the witness's refusal is the operator's to act on.
        const refused = failed.find((w) => w.result === 'refused');
        if (refused) throw new IntegrityError(refused.reason!);
        throw new UnavailableError(failed[0]!.reason!);
      }
    });

  withJson(program.command('verify'))
    .description('recompute every hash, chain, root, signature and consistency proof from the raw events; say whether a signed checkpoint covers every event')
    .option('--key <vkey...>', 'trusted verifier key(s) in signed-note form (default: the home key)')
    .option('--workers <n>', 'worker threads for the per-event checks; 1 = single-threaded (default: cores - 1)', parsePositive('--workers'))
    .option('--parallel-from <events>', 'use the worker threads only for a tree of at least this many events; 0 = always (default: 150000, where they start paying off on 2 cores)', parseNonNegative('--parallel-from'))
    .option('--strict', 'exit 1 also when some events are not covered by a signed checkpoint (anchored: false)')
    .option('--witness-key <vkey...>', 'require the latest checkpoint to be cosigned by these witnesses (C2SP tlog-cosignature)')
    .option('--witness-threshold <k>', 'with --witness-key: how many of them must have cosigned (default: all)', parsePositive('--witness-threshold'))
    .action(async (opts: JsonFlag & { key?: string[]; workers?: number; parallelFrom?: number; strict?: boolean; witnessKey?: string[]; witnessThreshold?: number }) => {
      // The tree size first: below --parallel-from no thread is started (two cost ~90 ms of CPU to
      // boot, docs/benchmarks.md Round 8). At or above it they start as soon as the size is known
      // and load their modules while this thread loads the verifier.
      const { defaultVerifyWorkers, PARALLEL_FROM_EVENTS, VerifyPool } = await import('../../replay/verify-pool.js');
      const loading = Promise.all([import('../../witness/policy.js'), import('../../replay/ledger-verification.js')]);
      loading.catch(() => undefined); // awaited below; a store that fails to open first must not leave it unhandled
      const workers = opts.workers ?? defaultVerifyWorkers();
      let pool: InstanceType<typeof VerifyPool> | undefined;
      let verified: LedgerVerification;
      try {
        const store = await ctx.store();
        await requireOrigin(store); // an uninitialised ledger says so before anything else
        if (workers > 1 && (await store.treeState()).size >= (opts.parallelFrom ?? PARALLEL_FROM_EVENTS)) {
          pool = new VerifyPool(workers);
          // The threads open their connections to the file while this one loads the verifier.
          const path = store.rangeReadPath?.();
          if (path !== undefined) pool.prepareRead(path);
        }
        const [{ witnessPolicy }, { verifyLedger }] = await loading;
        const keys = verifierKeysOf(ctx, opts.key);
        if (keys.length === 0) throw new InputError(`no verifier key: pass --key <vkey> (the signer's "runledger keys show")`, { field: '--key' });
        const witnesses = witnessPolicy(opts.witnessKey, opts.witnessThreshold);
        const bar = ctx.progress('verify', (await store.treeState()).size, opts.json ?? false);
        try {
          verified = await verifyLedger(store, {
            verifierKeys: keys,
            onProgress: (n) => bar.update(n),
            ...(pool !== undefined ? { pool } : { workers }),
            ...(opts.parallelFrom !== undefined ? { parallelFrom: opts.parallelFrom } : {}),
            ...(witnesses ? { witnesses } : {}),
          });
        } finally {
          bar.stop();
        }
      } finally {
        await pool?.close();
      }
      const { witnesses } = verified;
      ctx.print(opts.json ?? false, verified, () => [describeVerify(verified, opts.strict ?? false, ctx.style), ...(witnesses ? [`${witnesses.ok ? 'Witnessed' : 'NOT WITNESSED'}: ${witnesses.message}`] : [])].join('\n'));
      if (!verified.ok || (opts.strict && !verified.anchored) || (witnesses && !witnesses.ok)) throw new ExitCode(1);
    });

  const proof = program.command('proof').description('print RFC 9162 inclusion and consistency proofs, checked against the signed checkpoint of that size');
  withJson(proof.command('inclusion'))
    .description('inclusion proof of leaf INDEX in the tree of SIZE leaves (default: latest checkpoint), checked from the event\'s canonical bytes to the signed root')
    .requiredOption('--index <i>', 'leaf index (0-based)', parseNonNegative('--index'))
    .option('--size <n>', 'tree size (default: latest checkpoint size)', parseNonNegative('--size'))
    .option('--key <vkey...>', 'trusted verifier key(s) in signed-note form (default: the home key)')
    .addOption(new Option('--format <format>', 'tlog-proof: print the C2SP tlog-proof text (index, base64 hashes, the checkpoint note)').choices(['tlog-proof']))
    .action(async (opts: JsonFlag & { index: number; size?: number; key?: string[]; format?: 'tlog-proof' }) => {
      const [{ proveInclusion }, { formatTlogProof }] = await Promise.all([import('../../ledger/proofs.js'), import('../../integrity/tlog-proof.js')]);
      if (opts.format && opts.json) throw new InputError('--format tlog-proof and --json are alternatives: pass one', { field: '--format' });
      const store = await ctx.store();
      const origin = await requireOrigin(store);
      const report = await proveInclusion(store, { index: opts.index, ...(opts.size !== undefined ? { size: opts.size } : {}), verifierKeys: verifierKeysOf(ctx, opts.key), origin });
      const failure = report.failure ?? null;
      const anchor = { anchored: report.anchored, description: report.checkedAgainst };
      if (opts.format === 'tlog-proof' && !anchor.anchored) throw new InputError(`--format tlog-proof needs a signed checkpoint of the tree: ${anchor.description}`, { field: '--format' });
      const json = report;
      const size = report.size;
      if (opts.format === 'tlog-proof') {
        if (failure) throw new IntegrityError(`inclusion proof of leaf ${opts.index} does not verify: ${failure}`, { index: opts.index });
        ctx.stdout.write(formatTlogProof({ index: opts.index, proof: report.proof.map((h) => Buffer.from(h, 'hex')), checkpoint: report.checkpoint! }));
        return;
      }
      ctx.print(opts.json ?? false, report, () =>
        [
          `Inclusion of leaf ${opts.index} in the tree of size ${size}: ${verdict(failure, anchor)}`,
          `leaf ${json.leafHash} (hash of the event's canonical bytes)`,
          `root ${json.root}`,
          ...json.proof.map((h, i) => `  ${i}: ${h}`),
          report.checkpoint ? `checked against:\n${report.checkpoint}` : `checked against: ${anchor.description}`,
        ].join('\n'),
      );
      if (failure) throw new ExitCode(1);
    });
  withJson(proof.command('consistency'))
    .description('consistency proof between the trees of sizes FROM and TO (default: latest checkpoint), checked against their signed roots')
    .requiredOption('--from <m>', 'older tree size', parseNonNegative('--from'))
    .option('--to <n>', 'newer tree size (default: latest checkpoint size)', parseNonNegative('--to'))
    .option('--key <vkey...>', 'trusted verifier key(s) in signed-note form (default: the home key)')
    .action(async (opts: JsonFlag & { from: number; to?: number; key?: string[] }) => {
      const { proveConsistency } = await import('../../ledger/proofs.js');
      const store = await ctx.store();
      const origin = await requireOrigin(store);
      const { report, anchors } = await proveConsistency(store, { from: opts.from, ...(opts.to !== undefined ? { to: opts.to } : {}), verifierKeys: verifierKeysOf(ctx, opts.key), origin });
      const { failure = null, anchored } = report;
      const json = report;
      const to = report.to;
      const [fromAnchor, toAnchor] = [anchors.from, anchors.to];
      ctx.print(opts.json ?? false, report, () =>
        [
          `Consistency of tree ${opts.from} with tree ${to}: ${verdict(failure, { anchored, description: anchored ? 'both roots are signed (or the empty tree)' : [fromAnchor, toAnchor].filter((a) => !a.anchored).map((a) => a.description).join('; ') })}`,
          `from root ${json.fromRoot} (${fromAnchor.description})`,
          `to root   ${json.toRoot} (${toAnchor.description})`,
          ...json.proof.map((h, i) => `  ${i}: ${h}`),
        ].join('\n'),
      );
      if (failure) throw new ExitCode(1);
    });

  const keys = program.command('keys').description('signing keys');
  keys
    .command('show')
    .description('print the verifier key (C2SP signed-note vkey form); --worker: the worker key approvals must trust')
    .addOption(new Option('--json', 'print JSON'))
    .option('--worker', "this home's worker key (created on first use), which signs checkpoints and training events")
    .action(async (opts: JsonFlag & { worker?: boolean }) => {
      if (opts.worker) {
        const { homeWorkerKeys } = await import('../../ledger/worker-keys.js');
        const key = homeWorkerKeys(ctx.home());
        ctx.print(opts.json ?? false, { verifierKey: key.verifierKey, publicKey: key.publicKey }, () => key.verifierKey);
        return;
      }
      const vkey = loadVerifierKey(ctx.home());
      ctx.print(opts.json ?? false, { verifierKey: vkey }, () => vkey);
    });
  withJson(keys.command('rotate'))
    .description('replace the signing key: a new key, a LedgerKeyRotated event signed by both keys, and a transition checkpoint signed by both; finishes an interrupted rotation')
    .action(async (opts: JsonFlag) => {
      const { rotateKey } = await import('../../ledger/rotation.js');
      const store = await ctx.store();
      const origin = await requireOrigin(store);
      const outcome = await rotateKey(ctx.home(), store, origin, { actor: ctx.actor() });
      const t = outcome.transition;
      const report = { previousKey: outcome.previousKey, key: outcome.key, eventId: outcome.eventId, resumed: outcome.resumed, transition: { size: t.size, root: t.root, note: t.note } };
      ctx.print(opts.json ?? false, report, () =>
        [
          `${outcome.resumed ? 'Finished the interrupted key rotation' : 'Rotated the ledger signing key'}: checkpoints up to and including size ${t.size} verify with the old key, from size ${t.size} on with the new one.`,
          `old key: ${outcome.previousKey}`,
          `new key (give this to auditors and witnesses): ${outcome.key}`,
          `transition checkpoint, signed by both keys:`,
          '',
          t.note,
        ].join('\n'),
      );
    });
  withJson(keys.command('history'))
    .description('the ledger\'s signing keys and the tree sizes each may sign, from the LedgerKeyRotated events and transition checkpoints')
    .option('--key <vkey...>', 'trusted verifier key(s) (default: the home key)')
    .action(async (opts: JsonFlag & { key?: string[] }) => {
      const { KeyHistoryError, loadKeyHistory } = await import('../../replay/key-history.js');
      const store = await ctx.store();
      const origin = await requireOrigin(store);
      let history;
      try {
        history = await loadKeyHistory(store, verifierKeysOf(ctx, opts.key), origin);
      } catch (err) {
        if (err instanceof KeyHistoryError) throw new IntegrityError(err.message);
        throw err;
      }
      const epochs = history.epochs.map((e) => ({ key: e.key, fromSize: e.from, toSize: e.to, transitionCheckpoint: e.transition }));
      const report = { origin, rotations: history.rotations.length, keys: epochs, pending: history.pending ? history.pending.key : null };
      ctx.print(opts.json ?? false, report, () =>
        history.epochs.length === 0
          ? 'No key rotation recorded: the trusted key signs every checkpoint.'
          : [
              ...history.epochs.map((e, i) => `${i}: ${e.key}\n   signs tree sizes ${e.from}${e.to === null ? ' and later (current)' : `–${e.to}`}${e.transition ? ` (from transition checkpoint ${e.transition})` : ''}`),
              ...(history.pending ? [`pending: ${history.pending.key} (rotation recorded, no transition checkpoint yet: run "runledger keys rotate")`] : []),
            ].join('\n'),
      );
    });
}

/** A witness URL: http(s), absolute. */
function checkWitnessUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError(`--witness ${url} is not a URL (e.g. http://127.0.0.1:8790)`, { field: '--witness' });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new InputError(`--witness ${url} must be an http:// or https:// URL`, { field: '--witness' });
  return url;
}

/** The --key values, else the home's verifier key, else none (proofs then say they are not anchored). */
function verifierKeysOf(ctx: CliContext, given: string[] | undefined): string[] {
  return given ?? (hasSigningKey(ctx.home()) ? [loadVerifierKey(ctx.home())] : []);
}

function verdict(failure: string | null, anchor: { anchored: boolean; description: string }): string {
  if (failure) return `NOT VERIFIED: ${failure}`;
  return anchor.anchored ? `verified against ${anchor.description}` : `verified only against the store's own root, NOT ANCHORED: ${anchor.description}`;
}

function describeVerify(r: LedgerVerification, strict: boolean, style: Style): string {
  if (!r.ok) return `${style.status('fail', 'FAILED')}: ${r.firstDivergence?.message ?? 'verification failed'}`;
  const total = r.events + r.pendingEvents;
  const counted = `${count(total, 'event')} in ${count(r.streams, 'stream')}`;
  const verified = `${count(r.checkpoints, 'checkpoint')} verified`;
  if (r.anchored) return `${style.status('ok', 'OK, anchored')}: ${counted}, every one inside signed checkpoint ${r.checkpoints} (size ${r.anchoredEvents}); ${verified}; root ${r.root}`;
  const why =
    r.checkpoints === 0
      ? `the ledger has no signed checkpoint, so no key vouches for any of them`
      : `${r.unanchoredEvents} of them came after the latest signed checkpoint (size ${r.anchoredEvents}), so no key vouches for those yet; ${verified}`;
  const pending = r.pendingEvents > 0 ? ` (${r.pendingEvents} not integrated into the tree yet)` : '';
  return [
    `${style.status('warn', 'OK but NOT ANCHORED')}: ${counted}${pending} recompute consistently, but ${why}. Run "runledger checkpoint" to sign them.`,
    ...(strict ? ['--strict: not anchored, exit 1'] : []),
  ].join('\n');
}

function parseNonNegative(flag: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InputError(`${flag} must be a non-negative integer, got "${value}"`, { field: flag });
    return Number(value);
  };
}

function parsePositive(flag: string) {
  return (value: string): number => {
    if (!/^[1-9]\d{0,3}$/.test(value)) throw new InputError(`${flag} must be an integer from 1 to 9999, got "${value}"`, { field: flag });
    return Number(value);
  };
}

// Bytes, not text: parseAppendInput checks sizes and UTF-8 line by line before parsing (docs/limits.md).
function readAppendFile(file: string): Buffer {
  return readBoundedFile(resolve(file), LIMITS.appendBytes, 'NDJSON input');
}

async function readStdin(): Promise<Buffer> {
  return readBoundedStream(process.stdin, LIMITS.appendBytes, 'stdin', 'the input');
}

/** A small text file (a signed note): at most LIMITS.documentBytes of UTF-8, never repaired. */
function readInputFile(file: string): string {
  return decodeUtf8(readBoundedFile(resolve(file), LIMITS.documentBytes, 'file'), file);
}


