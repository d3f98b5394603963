// The one door to run streams. Every writer — `runledger append`, Kafka ingest, the governance
// recorder, the training workers, the HTTP API — appends through here: the run's state is folded from
// its log, every proposed event is checked with the write rules (write-rules.ts), and the batch is
// appended with expectedRevision = the revision the state was folded at. A concurrent writer that
// appended in between makes the store refuse (ConcurrencyError); the door then re-reads and re-checks,
// so a check and its append are atomic. Events on other streams pass through unchanged.
import { KEY_STREAM, LEDGER_TYPES } from '../../events/ledger.js';
import { ConcurrencyError, InputError } from '../errors.js';
import { expectationHolds } from '../store/append-plan.js';
import { isFrozenBatch, prepareFrozenBatch, trustedRequests, type PreparedRequest } from '../store/seal.js';
import { NO_STREAM, type AppendRequest, type ExpectedRevision, type AppendResult, type EventStore, type RecordedEvent } from '../store/port.js';
import { checkRunId, isRunStream, runIdOf, runStream } from './run-stream.js';
import type { RunSummary } from './run-state.js';
import { MODEL_TYPES } from '../../events/model.js';
import { EXPERIMENT_STREAM_PREFIX, EXPERIMENT_TYPES } from '../../events/experiments.js';
import { isModelStream } from '../registry/model-rules.js';
import { evolveRules, initialRuleState, RECORDER_TYPES, ruleViolation, type RuleOptions, type RuleState } from './write-rules.js';
import { acceptWorkerSignature } from '../integrity/worker-signature.js';

/** What the door knows of a run stream: its revision, the rule state at that revision, the ids recorded. */
export interface RunHead {
  stream: string;
  /** Revision of the last event, -1 for an empty stream. */
  revision: number;
  rules: RuleState;
  ids: Set<string>;
}

function emptyHead(stream: string): RunHead {
  return { stream, revision: -1, rules: initialRuleState(runIdOf(stream)), ids: new Set() };
}

/** Folds events read after `head` into it (the Set of ids is extended in place). */
function foldHead(head: RunHead, events: readonly RecordedEvent[]): RunHead {
  let { rules, revision } = head;
  for (const e of events) {
    rules = evolveRules(rules, e.envelope);
    revision = e.envelope.revision;
    head.ids.add(e.envelope.id);
  }
  return { stream: head.stream, revision, rules, ids: head.ids };
}

/**
 * Run heads kept between appends by a long-lived writer (a worker, an ingester): each read folds only
 * the events recorded since the last one, since a stream's recorded prefix never changes.
 */
export class RunHeads {
  private readonly heads = new Map<string, RunHead>();
  constructor(private readonly limit = 1000) {}

  async read(store: EventStore, stream: string): Promise<RunHead> {
    const cached = this.heads.get(stream);
    const events = await store.readStream(stream, { fromRevision: cached ? cached.revision + 1 : 0 });
    const head = foldHead(cached ?? emptyHead(stream), events);
    this.keep(head);
    return head;
  }

  /**
   * The head after the door's own append, which the store recorded at exactly the revisions checked
   * (pinned expectedRevision): the rules folded while checking are what folding the recorded events
   * gives (evolveRules reads type, data and revision only), so the next read starts after them
   * instead of reading back what this writer just wrote. A head behind the one kept is ignored.
   */
  advance(head: RunHead, ids: readonly string[]): void {
    const cached = this.heads.get(head.stream);
    if (cached !== undefined && cached.revision >= head.revision) return;
    for (const id of ids) head.ids.add(id);
    this.keep({ stream: head.stream, revision: head.revision, rules: head.rules, ids: head.ids });
  }

  private keep(head: RunHead): void {
    this.heads.delete(head.stream);
    this.heads.set(head.stream, head);
    if (this.heads.size > this.limit) this.heads.delete(this.heads.keys().next().value!);
  }
}

/** A run's state at a revision, as the door decides on it. */
export interface RunView {
  runId: string;
  stream: string;
  /** Stream revision read, -1 when the run has no events. */
  revision: number;
  /** The governance run state (src/governance/run-state.ts). */
  state: RunSummary;
  /** The write rules' state, of which `state` is a part. */
  rules: RuleState;
}

/** A run's view together with every event it was folded from. */
export interface RunSnapshot extends RunView {
  events: RecordedEvent[];
}

/** Reads a run's stream and folds it into its state. */
export async function readRun(store: EventStore, runId: string): Promise<RunSnapshot> {
  checkRunId(runId);
  const stream = runStream(runId);
  const events = await store.readStream(stream);
  const head = foldHead(emptyHead(stream), events);
  return { runId, stream, events, revision: head.revision, state: head.rules.run, rules: head.rules };
}

function headOf(snapshot: RunSnapshot): RunHead {
  return { stream: snapshot.stream, revision: snapshot.revision, rules: snapshot.rules, ids: new Set(snapshot.events.map((e) => e.envelope.id)) };
}

const LEDGER_TYPE_SET: ReadonlySet<string> = new Set(LEDGER_TYPES);

export interface DoorOptions {
  /**
   * Whether governance events other than AuditFinding may pass. Only the recorder (which decides them
   * from the plan) and relayed copies of another ledger's events (which the rules check in full) do.
   * Key history and model registry events pass no door, whatever this says.
   */
  allowGovernance?: boolean;
  /**
   * Whether experiment events may pass: only the MLflow API's own writes of an experiment stream
   * (src/server/mlflow/experiments.ts, behind serve's token) do; relayed copies do not — each ledger
   * keeps its own experiment index, as it keeps its own model registry.
   */
  experimentIndex?: boolean;
  /** How errors name an event, e.g. `stdin line 3`; default: nothing (the rule's sentence names the run). */
  describe?: (request: number, event: number) => string;
  /** Incremental heads of a long-lived writer. */
  heads?: RunHeads;
}

/**
 * Plan and stage events are the recorder's: it decides them from the plan (`runledger plan approve`,
 * `stage`, `run fail`). Every other door refuses them, before anything else is looked at.
 */
export function refuseRecorderTypes(requests: readonly AppendRequest[], options: Pick<DoorOptions, 'describe' | 'allowGovernance' | 'experimentIndex'> = {}): void {
  requests.forEach((request, r) => {
    // Key rotations are `runledger keys rotate`'s alone (src/ledger/rotation.ts): a copy appended by any other door would break the key history.
    const k = request.stream === KEY_STREAM ? 0 : request.events.findIndex((event) => LEDGER_TYPE_SET.has(event.type));
    if (k >= 0) {
      throw new InputError(`${options.describe ? `${options.describe(r, k)}: ` : ''}the key history (stream "${request.stream}", ${request.events[k]?.type ?? 'no event'}) is recorded by "runledger keys rotate"; it cannot be appended directly`, { field: 'type', stream: request.stream });
    }
    // The model registry is recorded by `runledger model register|alias` (src/registry/model-registry.ts),
    // which replays the run and checks the registry's rules; no other door writes a model stream.
    const m = isModelStream(request.stream) ? 0 : request.events.findIndex((event) => MODEL_EVENT_TYPES.has(event.type));
    if (m >= 0) {
      throw new InputError(
        `${options.describe ? `${options.describe(r, m)}: ` : ''}model registry events (stream "${request.stream}", ${request.events[m]?.type ?? 'no event'}) are recorded by "runledger model" (register, alias, tag, describe) and the registry API, which check the registry's rules; they cannot be appended directly`,
        { field: 'type', stream: request.stream },
      );
    }
    // Experiments (MLflow's named groups of runs) are created and indexed by the MLflow API alone: another
    // door could squat a name (the first ExperimentCreated of the stream its name hashes to is the experiment).
    const x = options.experimentIndex ? -1 : request.stream.startsWith(EXPERIMENT_STREAM_PREFIX) ? 0 : request.events.findIndex((event) => EXPERIMENT_TYPE_SET.has(event.type));
    if (x >= 0) {
      throw new InputError(
        `${options.describe ? `${options.describe(r, x)}: ` : ''}experiment events (stream "${request.stream}", ${request.events[x]?.type ?? 'no event'}) are recorded by the MLflow API of "runledger serve" (experiments/create, runs/create); they cannot be appended directly`,
        { field: 'type', stream: request.stream },
      );
    }
    // Plan and stage events: the recorder's, and relayed copies of another ledger's (checked in full by the rules).
    // Key history and model registry: no door at all, relayed copies included — each ledger keeps its own.
    if (options.allowGovernance) return;
    const e = request.events.findIndex((event) => RECORDER_TYPES.has(event.type));
    if (e < 0) return;
    throw new InputError(
      `${options.describe ? `${options.describe(r, e)}: ` : ''}${request.events[e]!.type} events are recorded by "runledger plan approve", "runledger stage" and "runledger run fail", which check the run's plan; they cannot be appended directly`,
      { field: 'type', stream: request.stream },
    );
  });
}

/**
 * Checks a validated batch against the heads of its run streams, in order (each event against the
 * state its predecessors leave), and returns the requests with every run stream pinned to the
 * revision checked. Throws InputError naming the first event a rule refuses, or ConcurrencyError when
 * the caller's own expectedRevision does not hold. Pure.
 */
export function checkRequests(heads: ReadonlyMap<string, RunHead>, requests: readonly AppendRequest[], prepared: readonly PreparedRequest[], options: DoorOptions = {}): AppendRequest[] {
  return checkBatch(heads, requests, prepared, options).pinned;
}

/** checkRequests, with the heads of the checked run streams as they are once the batch is recorded. */
function checkBatch(
  heads: ReadonlyMap<string, RunHead>,
  requests: readonly AppendRequest[],
  prepared: readonly PreparedRequest[],
  options: DoorOptions,
): { pinned: AppendRequest[]; after: Map<string, { head: RunHead; ids: string[] }> } {
  const working = new Map([...heads].map(([stream, head]) => [stream, { ...head }]));
  const after = new Map<string, { head: RunHead; ids: string[] }>();
  const pinned = requests.map((request, r): AppendRequest => {
    const p = prepared[r]!;
    const where = (e: number): string => (options.describe ? `${options.describe(r, e)}: ` : '');
    const head = working.get(p.stream);
    if (!head) return request;
    // A retry of recorded events is the store's to answer (before its expectation, as the store does):
    // identical, nothing new; different, refused.
    if (p.events.some((e) => head.ids.has(e.id))) return request;
    if (request.expectedRevision !== undefined && !expectationHolds(p.expectedRevision, head.revision)) {
      throw new ConcurrencyError(p.stream, p.expectedRevision, head.revision);
    }
    p.events.forEach((event, e) => {
      const revision = head.revision + 1 + e;
      // Every rule, every event; only a signature this process's own worker signer made is known valid without verifying it again.
      const violation = ruleViolation(head.rules, event, DOOR_RULES);
      if (violation) {
        throw new InputError(`${where(e)}${violation.message}; nothing was recorded (rule ${violation.rule})`, { stream: p.stream, revision });
      }
      head.rules = evolveRules(head.rules, { type: event.type, data: event.data, revision });
    });
    const pinnedAt: ExpectedRevision = head.revision < 0 ? NO_STREAM : head.revision;
    head.revision += p.events.length;
    const checked = after.get(p.stream) ?? { head, ids: [] };
    for (const event of p.events) checked.ids.push(event.id);
    after.set(p.stream, checked);
    return { ...request, expectedRevision: pinnedAt };
  });
  return { pinned, after };
}

const MAX_ATTEMPTS = 20;
const DOOR_RULES: RuleOptions = { signatureValid: acceptWorkerSignature };
const MODEL_EVENT_TYPES: ReadonlySet<string> = new Set(MODEL_TYPES);
const EXPERIMENT_TYPE_SET: ReadonlySet<string> = new Set(EXPERIMENT_TYPES);

/** `prepared`: the requests' frozen batch (`prepareFrozenBatch`), when the caller checked them already. */
type Decision<T> = { requests: AppendRequest[]; prepared?: readonly PreparedRequest[]; result: T } | { done: T };

/**
 * The door's loop: read the run streams' heads, decide, check, append with every run stream pinned.
 * When a concurrent writer appended to one of them first, everything is read, decided and checked again.
 */
async function decideCheckAppend<S, T>(
  store: EventStore,
  streams: readonly string[],
  read: () => Promise<{ heads: Map<string, RunHead>; snapshot: S }>,
  decide: (snapshot: S) => Decision<T>,
  options: DoorOptions,
  cache?: RunHeads,
): Promise<{ result: T; appended: AppendResult | null }> {
  for (let attempt = 1; ; attempt++) {
    const { heads, snapshot } = await read();
    const decision = decide(snapshot);
    if ('done' in decision) return { result: decision.done, appended: null };
    refuseRecorderTypes(decision.requests, options);
    // Validated once: the store appends the very batch checked here (frozen) without preparing it again.
    const prepared = decision.prepared ?? prepareFrozenBatch(decision.requests, options.describe ? { describe: options.describe } : {});
    const { pinned, after } = checkBatch(heads, decision.requests, prepared, options);
    try {
      const appended = await store.appendBatch(trustedRequests(prepared, pinned.map((r) => r.expectedRevision)));
      if (cache && !appended.duplicate) {
        for (const [stream, { head, ids }] of after) {
          // Only a stream the store says it extended to exactly the revision checked.
          const last = Math.max(...appended.streams.filter((s) => s.stream === stream).map((s) => s.lastRevision));
          if (last === head.revision) cache.advance(head, ids);
        }
      }
      return { result: decision.result, appended };
    } catch (err) {
      if (!(err instanceof ConcurrencyError) || !streams.includes(err.stream) || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}

/** Appends a batch (atomic across its streams) through the write rules. Bad input writes nothing. */
export async function guardedAppend(store: EventStore, requests: AppendRequest[], options: DoorOptions = {}): Promise<AppendResult> {
  return throughDoor(store, requests, undefined, options);
}

/**
 * guardedAppend for a batch its caller already validated with `prepareFrozenBatch` (`runledger append`,
 * POST /api/events): the door decides on, and the store appends, that very batch, so no event is
 * validated twice. Everything — the streams, the recorder's types, the rules — is read from the frozen
 * batch itself, never from the requests it was prepared from (which the caller could still change). A
 * batch that is not `prepareFrozenBatch`'s is appended as the events it claims, checked in full.
 */
export async function guardedAppendPrepared(store: EventStore, prepared: readonly PreparedRequest[], options: DoorOptions = {}): Promise<AppendResult> {
  if (!isFrozenBatch(prepared)) return guardedAppend(store, trustedRequests(prepared, []), options);
  // A PreparedRequest is an AppendRequest whose events carry their texts and digests too (frozen: nothing writes to it).
  return throughDoor(store, prepared as unknown as AppendRequest[], prepared, options);
}

async function throughDoor(store: EventStore, requests: AppendRequest[], prepared: readonly PreparedRequest[] | undefined, options: DoorOptions): Promise<AppendResult> {
  const streams = [...new Set(requests.map((r) => r.stream).filter(isRunStream))];
  if (streams.length === 0) {
    // No run stream: nothing to check but the recorder's types; the store validates the rest (or appends the batch checked).
    refuseRecorderTypes(requests, options);
    return store.appendBatch(prepared ? trustedRequests(prepared, []) : requests);
  }
  const heads = options.heads ?? new RunHeads();
  const read = async (): Promise<{ heads: Map<string, RunHead>; snapshot: null }> => ({
    heads: new Map(await Promise.all(streams.map(async (s) => [s, await heads.read(store, s)] as const))),
    snapshot: null,
  });
  const { appended } = await decideCheckAppend(store, streams, read, () => ({ requests, ...(prepared ? { prepared } : {}), result: undefined }), options, heads);
  return appended!;
}

type RunDecision<T> = { events: AppendRequest['events']; result: T } | { done: T };

/** One run stream through the door's loop: `read` gives its head and what `decide` sees of it. */
async function decideOneRun<S, T>(
  store: EventStore,
  stream: string,
  read: () => Promise<{ head: RunHead; snapshot: S }>,
  decide: (snapshot: S) => RunDecision<T>,
  options: DoorOptions,
  cache?: RunHeads,
): Promise<T> {
  const { result } = await decideCheckAppend(
    store,
    [stream],
    async () => {
      const { head, snapshot } = await read();
      return { heads: new Map([[stream, head]]), snapshot };
    },
    (snapshot) => {
      const decision = decide(snapshot);
      return 'done' in decision ? decision : { requests: [{ stream, events: decision.events }], result: decision.result };
    },
    options,
    cache,
  );
  return result;
}

/**
 * Reads one run, lets `decide` turn it into events (or refuse with an InputError), checks them with
 * the write rules and appends them at exactly the revision read: the recorder's door.
 */
export async function decideRunAppend<T>(store: EventStore, runId: string, decide: (snapshot: RunSnapshot) => RunDecision<T>, options: DoorOptions = {}): Promise<T> {
  const stream = runStream(checkRunId(runId));
  return decideOneRun(store, stream, async () => {
    const snapshot = await readRun(store, runId);
    return { head: headOf(snapshot), snapshot };
  }, decide, options);
}

/**
 * decideRunAppend for a long-lived writer that does not need the run's events, only its state: each
 * call folds just the events recorded since `heads` last read the run (the run API, the HTTP door),
 * so logging the n-th metric costs the same as the first.
 */
export async function decideRunViewAppend<T>(store: EventStore, runId: string, heads: RunHeads, decide: (view: RunView) => RunDecision<T>, options: DoorOptions = {}): Promise<T> {
  const stream = runStream(checkRunId(runId));
  return decideOneRun(store, stream, async () => {
    const head = await heads.read(store, stream);
    return { head, snapshot: { runId, stream, revision: head.revision, state: head.rules.run, rules: head.rules } };
  }, decide, options, heads);
}
