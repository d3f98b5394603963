// runledger model register|alias|tag|describe|history|show: the model registry (src/registry/), every change an
// event on the model's stream, anchored by a signed checkpoint right after it is recorded.
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { hasSigningKey, loadVerifierKey } from '../../ledger/keys.js';
import { anchorChange, deleteAlias, deleteTag, registerVersion, setAlias, setDescription, setTag, type ModelChange } from '../../registry/model-registry.js';
import { modelAt, readModelHistory, type ModelHistory, type ModelHistoryEntry } from '../../registry/model-history.js';
import { ExitCode, withJson, type CliContext } from '../context.js';

interface Common {
  json?: boolean;
  key?: string[];
}

export function registerModelCommands(program: Command, ctx: CliContext): void {
  const model = program.command('model').description('model registry: versions from verified runs, aliases with actor and reason, history with inclusion proofs');
  const keysOf = (given: string[] | undefined): string[] => given ?? (hasSigningKey(ctx.home()) ? [loadVerifierKey(ctx.home())] : []);
  const actor = (): string => ctx.actor();

  const written = async (change: ModelChange, json: boolean, human: string): Promise<void> => {
    const store = await ctx.store();
    const anchor = await anchorChange(store, ctx.home());
    if (anchor.reason) ctx.note(`runledger: not anchored yet: ${anchor.reason}`);
    ctx.print(json, { ...change, anchoredBy: anchor.size === null ? null : { size: anchor.size, note: anchor.note } }, () =>
      anchor.size === null ? human : `${human}; anchored by signed checkpoint of ${anchor.size} events`,
    );
  };

  withJson(model.command('register'))
    .description('replay a run against the latest signed checkpoint and register its signed model checkpoint (or, with --artifact, the artifacts it logged at a path) as the next version of NAME')
    .argument('<name>', 'model name')
    .requiredOption('--run <id>', 'the run whose checkpoint becomes the version')
    .option('--checkpoint <digest>', 'one of the run\'s checkpoints (default: its final checkpoint)')
    .option('--artifact <path>', 'register the run\'s logged artifact at this path (a file, or every file below a directory) instead of a checkpoint')
    .option('--description <text>', 'what this version is')
    .option('--key <vkey...>', 'trusted verifier key(s) for the replay (default: the home key)')
    .action(async (name: string, opts: Common & { run: string; checkpoint?: string; artifact?: string; description?: string }) => {
      const store = await ctx.store();
      const change = await registerVersion(store, {
        model: name,
        runId: opts.run,
        ...(opts.checkpoint !== undefined ? { checkpoint: opts.checkpoint } : {}),
        ...(opts.artifact !== undefined ? { artifact: opts.artifact } : {}),
        description: opts.description ?? null,
        actor: actor(),
        verifierKeys: keysOf(opts.key),
      });
      await written(change, opts.json ?? false, `Registered run ${opts.run} as model ${name} version ${(change.data as { version: number }).version} (event ${change.eventId})`);
    });

  withJson(model.command('alias'))
    .description('set or move alias ALIAS of model NAME to VERSION, or delete it with --delete; --reason is required')
    .argument('<name>', 'model name')
    .argument('<alias>', 'alias, e.g. production, staging')
    .argument('[version]', 'version number (omit with --delete)')
    .option('--delete', 'delete the alias')
    .requiredOption('--reason <text>', 'why: recorded with the change')
    .action(async (name: string, alias: string, version: string | undefined, opts: Common & { delete?: boolean; reason: string }) => {
      const store = await ctx.store();
      if (opts.delete) {
        if (version !== undefined) throw new InputError('--delete takes no version: pass either a version or --delete', { field: 'version' });
        const change = await deleteAlias(store, { model: name, alias, reason: opts.reason, actor: actor() });
        await written(change, opts.json ?? false, `Deleted alias ${alias} of model ${name} (was version ${(change.data as { previousVersion: number }).previousVersion})`);
        return;
      }
      if (version === undefined || !/^[1-9]\d{0,8}$/.test(version)) throw new InputError(`version must be a positive integer, got "${version ?? ''}" (or pass --delete)`, { field: 'version' });
      const change = await setAlias(store, { model: name, alias, version: Number(version), reason: opts.reason, actor: actor() });
      const previous = (change.data as { previousVersion: number | null }).previousVersion;
      await written(change, opts.json ?? false, `Alias ${alias} of model ${name} -> version ${version}${previous === null ? '' : ` (was ${previous})`}`);
    });

  const versionOption = (version: string | undefined): number | null => {
    if (version === undefined) return null;
    if (!/^[1-9]\d{0,8}$/.test(version)) throw new InputError(`--model-version must be a positive integer, got "${version}"`, { field: '--model-version' });
    return Number(version);
  };
  const unchanged = (json: boolean, what: string): void => ctx.print(json, { changed: false }, () => `${what}: nothing recorded`);
  const target = (name: string, version: number | null): string => (version === null ? `model ${name}` : `version ${version} of model ${name}`);

  withJson(model.command('tag'))
    .description('set tag KEY of model NAME (or of one version, --model-version) to VALUE, or delete it with --delete; each change names the value it replaces')
    .argument('<name>', 'model name')
    .argument('<key>', 'tag key (letters, digits, "_", ".", "/", "-")')
    .argument('[value]', 'tag value (omit with --delete)')
    .option('--model-version <n>', 'tag this version instead of the model')
    .option('--delete', 'delete the tag')
    .action(async (name: string, key: string, value: string | undefined, opts: Common & { modelVersion?: string; delete?: boolean }) => {
      const store = await ctx.store();
      const version = versionOption(opts.modelVersion);
      if (opts.delete) {
        if (value !== undefined) throw new InputError('--delete takes no value: pass either a value or --delete', { field: 'value' });
        const change = await deleteTag(store, { model: name, version, key, actor: actor() });
        await written(change, opts.json ?? false, `Deleted tag ${key} of ${target(name, version)} (was ${JSON.stringify((change.data as { previousValue: string }).previousValue)})`);
        return;
      }
      if (value === undefined) throw new InputError(`tag ${key} needs a value (or pass --delete)`, { field: 'value' });
      const change = await setTag(store, { model: name, version, key, value, actor: actor() });
      if (change === null) return unchanged(opts.json ?? false, `Tag ${key} of ${target(name, version)} is already ${JSON.stringify(value)}`);
      await written(change, opts.json ?? false, `Tag ${key} of ${target(name, version)} = ${JSON.stringify(value)}`);
    });

  withJson(model.command('describe'))
    .description('set the description of model NAME (or of one version, --model-version); the change names the description it replaces')
    .argument('<name>', 'model name')
    .argument('<text>', 'the description')
    .option('--model-version <n>', 'describe this version instead of the model')
    .action(async (name: string, text: string, opts: Common & { modelVersion?: string }) => {
      const store = await ctx.store();
      const version = versionOption(opts.modelVersion);
      const change = await setDescription(store, { model: name, version, description: text, actor: actor() });
      if (change === null) return unchanged(opts.json ?? false, `The description of ${target(name, version)} is already that`);
      await written(change, opts.json ?? false, `Described ${target(name, version)}`);
    });

  withJson(model.command('history'))
    .description('every version and alias change of NAME with actor, time, reason and its RFC 9162 inclusion proof, re-verified from the log')
    .argument('<name>', 'model name')
    .option('--key <vkey...>', 'trusted verifier key(s) (default: the home key)')
    .action(async (name: string, opts: Common) => {
      const store = await ctx.store();
      const history = await readModelHistory(store, name, { verifierKeys: keysOf(opts.key) });
      ctx.print(opts.json ?? false, history, () => describeHistory(history));
      if (!history.ok) throw new ExitCode(1);
    });

  withJson(model.command('show'))
    .description('versions and aliases of NAME, now or as they stood at time T (--at), answered with inclusion proofs')
    .argument('<name>', 'model name')
    .option('--at <time>', 'RFC 3339 time, e.g. 2026-01-01T12:00:00Z (default: now)')
    .option('--key <vkey...>', 'trusted verifier key(s) (default: the home key)')
    .action(async (name: string, opts: Common & { at?: string }) => {
      const store = await ctx.store();
      const history = await readModelHistory(store, name, { verifierKeys: keysOf(opts.key) });
      if (!history.ok) {
        ctx.print(opts.json ?? false, { model: name, ok: false, firstDivergence: history.firstDivergence }, () => `NOT VERIFIED: ${history.firstDivergence?.message ?? 'verification failed'}`);
        throw new ExitCode(1);
      }
      const at = modelAt(history, opts.at ?? new Date().toISOString());
      const report = { ok: true, ...at, checkpoint: history.checkpoint, versionDetails: history.versions.filter((v) => at.versions.includes(v.version)) };
      ctx.print(opts.json ?? false, report, () =>
        [
          `Model ${name} at ${at.at}: ${at.versions.length === 0 ? 'no versions yet' : `versions 1..${at.versions.length}`}${at.anchored ? '' : ' (NOT ANCHORED: some changes are after the latest signed checkpoint)'}`,
          ...at.aliases.map((a) => `  ${a.alias.padEnd(12)} -> version ${a.version}  (set ${a.setBy.recordedAt} by ${a.setBy.actor}: ${a.setBy.reason ?? ''}; leaf ${a.setBy.inclusion?.index ?? '-'} ${a.setBy.anchored ? 'proven under the signed checkpoint' : 'not anchored'})`),
          ...(at.aliases.length === 0 ? ['  no aliases'] : []),
        ].join('\n'),
      );
    });
}

function describeHistory(h: ModelHistory): string {
  const lines = h.entries.map(describeEntry);
  if (!h.ok) return [...lines, `NOT VERIFIED: ${h.firstDivergence?.message ?? 'verification failed'}`].join('\n');
  const aliases = Object.entries(h.aliases).map(([a, v]) => `${a}=${v}`).join(', ') || 'none';
  return [
    `Model ${h.model}: ${h.versions.length} version(s); aliases ${aliases}; ${h.anchored ? `every change proven under signed checkpoint of ${h.checkpoint!.size} events` : 'some changes NOT ANCHORED yet (run "runledger checkpoint")'}`,
    ...lines,
  ].join('\n');
}

function describeChange(e: ModelHistoryEntry): string {
  const of = e.version === null ? 'the model' : `version ${e.version}`;
  const was = e.previousValue === null ? '' : ` (was ${JSON.stringify(e.previousValue)})`;
  switch (e.change) {
    case 'registered':
      return `registered version ${e.version} from run ${e.runId} (${e.artifactPath !== null ? `artifact ${e.artifactPath}` : `checkpoint ${e.checkpointDigest!.slice(0, 16)}…`})`;
    case 'alias-deleted':
      return `deleted alias ${e.alias} (was version ${e.previousVersion}): ${e.reason}`;
    case 'tag-set':
      return `tagged ${of} ${e.key}=${JSON.stringify(e.value)}${was}`;
    case 'tag-deleted':
      return `deleted tag ${e.key} of ${of}${was}`;
    case 'description-set':
      return `described ${of}: ${JSON.stringify(e.value)}${was}`;
    default:
      return `${e.change === 'alias-moved' ? 'moved' : 'set'} alias ${e.alias} -> version ${e.version}${e.previousVersion === null ? '' : ` (was ${e.previousVersion})`}: ${e.reason}`;
  }
}

function describeEntry(e: ModelHistoryEntry): string {
  const what = describeChange(e);
  return `  ${e.recordedAt}  ${e.actor.padEnd(10)}  ${what}  [leaf ${e.inclusion?.index ?? '-'}${e.anchored ? ', proven' : ', not anchored'}]`;
}

