// Ledger commands: init, append, events, checkpoint, verify, proof, keys.
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { ConcurrencyError, InputError } from '../../errors.js';
import { createCheckpoint, latestCheckpoint, treeRoot } from '../../ledger/checkpoint.js';
import { ensureSigningKey, hasSigningKey, loadSigner, loadVerifierKey } from '../../ledger/keys.js';
import { ensureOrigin, requireOrigin } from '../../ledger/origin.js';
import { parseAppendInput } from '../../ledger/append-input.js';
import { readBoundedFile, readBoundedStream } from '../../input/decode.js';
import { LIMITS } from '../../input/limits.js';
import { readLogPages } from '../../ledger/read.js';
import { prepareBatch } from '../../store/seal.js';
import type { AppendRequest, EventStore, RecordedEvent } from '../../store/port.js';
import { GOVERNANCE_TYPES } from '../../../events/governance.js';
import { CompactRange } from '../../integrity/compact-range.js';
import { consistencyProofAsync, inclusionProofAsync, consistencyProofJson, inclusionProofJson, verifyProofJson } from '../../integrity/proof.js';
import { type VerifyLogReport } from '../../replay/verify-log.js';
import { defaultVerifyWorkers, verifyLogParallel } from '../../replay/verify-parallel.js';
import { ExitCode, withJson, type CliContext } from '../context.js';

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
      const key = ensureSigningKey(ctx.home(), origin);
      const report = { home: ctx.home(), store: store.displayUrl, origin, verifierKey: key.verifierKey, keyCreated: key.created };
      ctx.print(opts.json ?? false, report, () =>
        [
          `${key.created ? 'Initialised' : 'Already initialised'}: ${store.displayUrl}`,
          `home:   ${report.home}`,
          `origin: ${origin}`,
          `verifier key (give this to auditors):`,
          `  ${key.verifierKey}`,
        ].join('\n'),
      );
    });

  withJson(program.command('append'))
    .description('append NDJSON events, one per line: {"stream","type","data","id"?,"metadata"?,"expectedRevision"?}; all or nothing')
    .argument('[file]', 'NDJSON file, or - for standard input', '-')
    .action(async (file: string, opts: JsonFlag) => {
      const source = file === '-' ? 'stdin' : file;
      const text = file === '-' ? await readStdin() : readInputFile(file);
      const input = parseAppendInput(text, source);
      refuseRuledTypes(input.requests, (r, e) => `${source} line ${input.lines[r]![e]}`);
      const actor = ctx.env.RUNLEDGER_ACTOR ?? safeUser();
      for (const request of input.requests) {
        for (const event of request.events) event.metadata = { actor, ...event.metadata };
      }
      // Validate with line numbers before the store sees anything.
      prepareBatch(input.requests, { describe: (r, e) => `${source} line ${input.lines[r]![e]}` });
      const store = await ctx.store();
      let result;
      try {
        result = await store.appendBatch(input.requests);
      } catch (err) {
        if (err instanceof ConcurrencyError) {
          const r = input.requests.findIndex((q) => q.stream === err.stream && q.expectedRevision !== undefined);
          const line = r >= 0 ? input.lines[r]![0] : undefined;
          throw new InputError(`${line !== undefined ? `${source} line ${line}: ` : ''}${err.message}; nothing was appended`, { stream: err.stream, ...(line !== undefined ? { line } : {}) });
        }
        throw err;
      }
      const report = {
        appended: result.duplicate ? 0 : input.events,
        duplicate: result.duplicate,
        streams: new Set(result.streams.map((st) => st.stream)).size,
        firstPosition: result.positions[0],
        lastPosition: result.positions[result.positions.length - 1],
      };
      ctx.print(opts.json ?? false, report, () =>
        result.duplicate
          ? `Already recorded: ${input.events} events (idempotent retry), nothing appended`
          : `Appended ${input.events} events to ${report.streams} streams (positions ${report.firstPosition}..${report.lastPosition})`,
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
        ? await store.readStream(opts.stream, { from: opts.from ?? 0, ...(opts.limit !== undefined ? { limit: opts.limit } : {}) })
        : await store.readAll({ from: (opts.from ?? 0) - 1, ...(opts.limit !== undefined ? { limit: opts.limit } : {}) });
      const rows = events.map((e) => ({ position: e.position, index: e.index, leafHash: e.leafHash, ...e.envelope }));
      ctx.print(opts.json ?? false, { count: rows.length, events: rows }, () =>
        rows.length === 0
          ? 'No events.'
          : rows.map((e) => `${String(e.position).padStart(6)}  ${e.stream}@${e.revision}  ${e.type}  ${e.id}  ${JSON.stringify(e.data)}`).join('\n'),
      );
    });

  withJson(program.command('checkpoint'))
    .description('integrate pending events, then sign and store a checkpoint of the tree')
    .action(async (opts: JsonFlag) => {
      const store = await ctx.store();
      const origin = await requireOrigin(store);
      const outcome = await createCheckpoint(store, loadSigner(ctx.home()), origin);
      const c = outcome.checkpoint;
      const report = { created: outcome.created, size: c.size, root: c.root, note: c.note, previousSize: outcome.previous?.size ?? null };
      ctx.print(opts.json ?? false, report, () =>
        `${outcome.created ? 'Signed checkpoint' : 'No new events; latest checkpoint'} of ${c.size} events, root ${c.root}\n\n${c.note}`,
      );
    });

  withJson(program.command('verify'))
    .description('recompute every hash, chain, root, signature and consistency proof from the raw events')
    .option('--key <vkey...>', 'trusted verifier key(s) in signed-note form (default: the home key)')
    .option('--workers <n>', 'worker threads for the per-event checks; 1 = single-threaded (default: cores - 1)', parsePositive('--workers'))
    .action(async (opts: JsonFlag & { key?: string[]; workers?: number }) => {
      const store = await ctx.store();
      const origin = await requireOrigin(store);
      const keys = opts.key ?? (hasSigningKey(ctx.home()) ? [loadVerifierKey(ctx.home())] : []);
      if (keys.length === 0) throw new InputError(`no verifier key: pass --key <vkey> (the signer's "runledger keys show")`, { field: '--key' });
      const checkpoints = await store.checkpoints();
      const tree = await store.treeState();
      const bar = ctx.progress('verify', tree.size, opts.json ?? false);
      let report: VerifyLogReport;
      try {
        report = await verifyLogParallel(readLogPages(store), { checkpoints, verifierKeys: keys, origin, onProgress: (n) => bar.update(n) }, { workers: opts.workers ?? defaultVerifyWorkers() });
      } finally {
        bar.stop();
      }
      const pending = await countPending(store, tree.size);
      const full = { ...report, store: store.displayUrl, origin, pendingEvents: pending };
      ctx.print(opts.json ?? false, full, () => describeVerify(full));
      if (!report.ok) throw new ExitCode(1);
    });

  const proof = program.command('proof').description('print RFC 9162 inclusion and consistency proofs');
  withJson(proof.command('inclusion'))
    .description('inclusion proof of leaf INDEX in the tree of SIZE leaves (default: latest checkpoint)')
    .requiredOption('--index <i>', 'leaf index (0-based)', parseNonNegative('--index'))
    .option('--size <n>', 'tree size (default: latest checkpoint size)', parseNonNegative('--size'))
    .action(async (opts: JsonFlag & { index: number; size?: number }) => {
      const store = await ctx.store();
      const size = await proofSize(store, opts.size);
      if (opts.index >= size) throw new InputError(`--index ${opts.index} is outside the tree of size ${size}`, { field: '--index' });
      const read = leafReader(store);
      const [leaf] = await read(opts.index, opts.index + 1);
      const path = await inclusionProofAsync(opts.index, size, read);
      const root = await rootAt(store, size);
      const json = inclusionProofJson(opts.index, size, leaf!, root, path);
      verifyProofJson(json);
      const checkpoint = (await store.checkpoints()).find((c) => c.size === size);
      const report = { ...json, checkpoint: checkpoint?.note ?? null, verified: true };
      ctx.print(opts.json ?? false, report, () =>
        [`Inclusion of leaf ${opts.index} in tree of size ${size}`, `leaf ${json.leafHash}`, `root ${json.root}`, ...json.proof.map((h, i) => `  ${i}: ${h}`), checkpoint ? `signed by checkpoint:\n${checkpoint.note}` : '(no checkpoint of this size)'].join('\n'),
      );
    });
  withJson(proof.command('consistency'))
    .description('consistency proof between the trees of sizes FROM and TO (default: latest checkpoint)')
    .requiredOption('--from <m>', 'older tree size', parseNonNegative('--from'))
    .option('--to <n>', 'newer tree size (default: latest checkpoint size)', parseNonNegative('--to'))
    .action(async (opts: JsonFlag & { from: number; to?: number }) => {
      const store = await ctx.store();
      const to = await proofSize(store, opts.to);
      if (opts.from > to) throw new InputError(`--from ${opts.from} is larger than --to ${to}`, { field: '--from' });
      const path = await consistencyProofAsync(opts.from, to, leafReader(store));
      const json = consistencyProofJson(opts.from, to, await rootAt(store, opts.from), await rootAt(store, to), path);
      verifyProofJson(json);
      const report = { ...json, verified: true };
      ctx.print(opts.json ?? false, report, () =>
        [`Consistency of tree ${opts.from} with tree ${to}`, `from root ${json.fromRoot}`, `to root   ${json.toRoot}`, ...json.proof.map((h, i) => `  ${i}: ${h}`)].join('\n'),
      );
    });

  const keys = program.command('keys').description('signing keys');
  keys
    .command('show')
    .description('print the verifier key (C2SP signed-note vkey form)')
    .addOption(new Option('--json', 'print JSON'))
    .action((opts: JsonFlag) => {
      const vkey = loadVerifierKey(ctx.home());
      ctx.print(opts.json ?? false, { verifierKey: vkey }, () => vkey);
    });
}

// A run's plan and stage events are only recorded through the commands that enforce the plan
// (`plan approve`, `stage`, `run fail`): the ledger refuses to record a lie. Findings are open to any checker.
const RULED_TYPES = new Set<string>(GOVERNANCE_TYPES.filter((t) => t !== 'AuditFinding'));

function refuseRuledTypes(requests: AppendRequest[], where: (r: number, e: number) => string): void {
  requests.forEach((request, r) =>
    request.events.forEach((event, e) => {
      if (RULED_TYPES.has(event.type)) {
        throw new InputError(
          `${where(r, e)}: ${event.type} events are recorded by "runledger plan approve", "runledger stage" and "runledger run fail", which check the run's plan; append refuses them`,
          { field: 'type' },
        );
      }
    }),
  );
}

function leafReader(store: EventStore) {
  return async (from: number, to: number): Promise<Buffer[]> => (await store.leafHashes(from, to)).map((h) => Buffer.from(h, 'hex'));
}

async function proofSize(store: EventStore, requested: number | undefined): Promise<number> {
  const tree = await store.treeState();
  if (requested !== undefined) {
    if (requested > tree.size) throw new InputError(`size ${requested} is larger than the integrated tree (${tree.size} leaves)`, { field: '--size' });
    return requested;
  }
  const latest = await latestCheckpoint(store);
  if (!latest) throw new InputError('no checkpoint yet: run "runledger checkpoint" or pass a size', { field: '--size' });
  return latest.size;
}

async function rootAt(store: EventStore, size: number): Promise<Buffer> {
  const tree = await store.treeState();
  if (size === tree.size) return treeRoot(tree);
  const range = CompactRange.empty();
  for (let from = 0; from < size; from += 10_000) {
    for (const h of await store.leafHashes(from, Math.min(size, from + 10_000))) range.append(Buffer.from(h, 'hex'));
  }
  return range.root();
}

/** Events recorded but not yet in the tree. Adapters integrate in position order, so only events
 * after the last integrated leaf's position need reading — not the whole log again. */
async function countPending(store: EventStore, integrated: number): Promise<number> {
  let pending = 0;
  let after = integrated === 0 ? -1 : (await store.readLog({ from: integrated - 1, limit: 1 }))[0]?.position ?? -1;
  for (;;) {
    const page = await store.readAll({ from: after, limit: 10_000 });
    if (page.length === 0) return pending;
    pending += page.filter((e: RecordedEvent) => e.index === null || e.index >= integrated).length;
    after = page[page.length - 1]!.position;
  }
}

function describeVerify(r: VerifyLogReport & { store: string; pendingEvents: number }): string {
  if (r.ok) {
    const pending = r.pendingEvents > 0 ? `\n${r.pendingEvents} events are not integrated yet (run "runledger checkpoint").` : '';
    return `OK: ${r.events} events in ${r.streams} streams, ${r.checkpoints} checkpoints verified; root ${r.root}${pending}`;
  }
  return `FAILED: ${r.firstDivergence?.message ?? 'verification failed'}`;
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
function readInputFile(file: string): Buffer {
  return readBoundedFile(resolve(file), LIMITS.appendBytes, 'NDJSON input');
}

async function readStdin(): Promise<Buffer> {
  return readBoundedStream(process.stdin, LIMITS.appendBytes, 'stdin', 'the input');
}

function safeUser(): string {
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

