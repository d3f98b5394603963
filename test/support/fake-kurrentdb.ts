// An in-memory stand-in for the parts of @kurrent/kurrentdb-client the KurrentDB adapter uses,
// written from the client's documented API and types — NOT a KurrentDB server. It lets the
// adapter's own logic (planning, fencing, id claims, leaf assignment, resubscription) run the
// conformance suite where no server can run; what it cannot show is how a real server behaves.
// Semantics it models, as documented: streams with dense revisions; expected state any /
// no_stream / stream_exists / revision, failing with a wrong-expected-version error; the server's
// idempotent success when the same ids are appended again at the same expected revision; atomic
// multi-stream appends; `$all` positions as growing byte offsets with gaps (other streams' records,
// event sizes); forward reads from a position inclusive, subscriptions exclusive; `caughtUp`.
// Faults it can inject: a subscription that silently stops at an event (the `$all` hang after
// stream truncation reported against the Node client), failing subscriptions, removed events.
import { EventEmitter } from 'node:events';
import type { KurrentClient } from '../../src/store/kurrentdb/index.js';

interface Position {
  commit: bigint;
  prepare: bigint;
}

interface StoredRecord {
  streamId: string;
  id: string;
  revision: bigint;
  type: string;
  isJson: boolean;
  bytes: Buffer;
  position: Position;
  created: Date;
}

interface EventInput {
  id: string;
  type: string;
  contentType: string;
  data: unknown;
}

interface Filter {
  prefixes?: string[];
}

class FakeError extends Error {
  constructor(
    readonly type: string,
    message: string,
    extra: Record<string, unknown> = {},
  ) {
    super(message);
    Object.assign(this, extra);
  }
}

export interface FakeFaults {
  /** A subscription stops delivering, silently and for good, at the first event this matches. */
  stallAt?: (streamId: string, revision: bigint) => boolean;
  /** The next N subscriptions emit an `unavailable` error after delivering this many events. */
  failSubscriptions?: { count: number; afterEvents: number };
  /** multiStreamAppend is unsupported (a server older than 25.1). */
  noMultiStreamAppend?: boolean;
  /** One multi-stream append commits as one transaction: its events share the commit position. */
  transactionalMultiAppend?: boolean;
}

function compare(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  return a.prepare === b.prepare ? 0 : a.prepare < b.prepare ? -1 : 1;
}

function matches(filter: Filter | undefined, streamId: string): boolean {
  return !filter?.prefixes || filter.prefixes.some((p) => streamId.startsWith(p));
}

export class FakeKurrentServer {
  readonly streams = new Map<string, StoredRecord[]>();
  readonly log: StoredRecord[] = [];
  readonly faults: FakeFaults = {};
  private offset = 4_096n;
  private readonly live = new EventEmitter();
  subscriptionsOpened = 0;

  constructor() {
    this.live.setMaxListeners(0);
  }

  private current(stream: string): bigint {
    const events = this.streams.get(stream);
    return events && events.length > 0 ? BigInt(events.length - 1) : -1n;
  }

  private holds(expected: unknown, current: bigint): boolean {
    if (expected === 'any' || expected === undefined) return true;
    if (expected === 'no_stream') return current === -1n;
    if (expected === 'stream_exists') return current >= 0n;
    return current === expected;
  }

  /** The server's repeat detection: the same ids already at the revisions this write would take. */
  private isRepeat(stream: string, expected: unknown, events: EventInput[]): boolean {
    if (typeof expected !== 'bigint' && expected !== 'no_stream') return false;
    const from = expected === 'no_stream' ? 0 : Number(expected) + 1;
    const stored = this.streams.get(stream) ?? [];
    return events.every((e, k) => stored[from + k]?.id === e.id);
  }

  private checkAll(requests: { stream: string; expected: unknown; events: EventInput[] }[]): boolean[] {
    return requests.map((r) => {
      const current = this.current(r.stream);
      if (this.holds(r.expected, current)) return true;
      if (this.isRepeat(r.stream, r.expected, r.events)) return false;
      throw new FakeError('wrong-expected-version', `Wrong expected version for "${r.stream}": expected ${String(r.expected)}, actual ${current}`, {
        streamName: r.stream,
        expectedState: r.expected,
        actualState: current < 0n ? 'no_stream' : current,
      });
    });
  }

  write(requests: { stream: string; expected: unknown; events: EventInput[] }[], transactional = false): bigint {
    const writes = this.checkAll(requests);
    const written: StoredRecord[] = [];
    requests.forEach((r, k) => {
      if (!writes[k]) return;
      const stored = this.streams.get(r.stream) ?? [];
      this.streams.set(r.stream, stored);
      for (const e of r.events) {
        const isJson = e.contentType === 'application/json';
        const bytes = isJson ? Buffer.from(JSON.stringify(e.data), 'utf8') : Buffer.from(e.data as Uint8Array);
        const at = this.offset;
        this.offset += BigInt(80 + r.stream.length + bytes.length);
        const record = { streamId: r.stream, id: e.id, revision: BigInt(stored.length), type: e.type, isJson, bytes, position: { commit: at, prepare: at }, created: new Date() };
        stored.push(record);
        written.push(record);
      }
    });
    if (transactional && written.length > 0) {
      const commit = this.offset;
      this.offset += 64n;
      for (const record of written) record.position = { commit, prepare: record.position.prepare };
    }
    for (const record of written) {
      this.log.push(record);
      this.live.emit('append', record);
    }
    return written.at(-1)?.position.commit ?? this.offset;
  }

  /** Scavenging after a deletion or truncation: the event is gone from its stream and from `$all`. */
  remove(streamId: string, revision: number): void {
    const record = this.streams.get(streamId)?.[revision];
    if (!record) throw new Error(`no ${streamId}@${revision}`);
    this.log.splice(this.log.indexOf(record), 1);
    this.streams.get(streamId)!.splice(revision, 1);
  }

  /** Overwrites an event's bytes in place (an attacker with disk access). */
  tamper(streamId: string, revision: number, bytes: Buffer): void {
    this.streams.get(streamId)![revision]!.bytes = bytes;
  }

  view(record: StoredRecord) {
    return {
      event: {
        streamId: record.streamId,
        id: record.id,
        revision: record.revision,
        type: record.type,
        isJson: record.isJson,
        data: record.isJson ? JSON.parse(record.bytes.toString('utf8')) : new Uint8Array(record.bytes),
        metadata: undefined,
        created: record.created,
        position: { ...record.position },
      },
      commitPosition: record.position.commit,
    };
  }

  onAppend(listener: (record: StoredRecord) => void): () => void {
    this.live.on('append', listener);
    return () => this.live.off('append', listener);
  }

  /** A client connected to this server. */
  client(): KurrentClient {
    return new FakeClient(this) as unknown as KurrentClient;
  }
}

class FakeClient {
  private disposed = false;
  constructor(private readonly server: FakeKurrentServer) {}

  private alive(): void {
    if (this.disposed) throw new FakeError('unavailable', 'client disposed');
  }

  async multiStreamAppend(requests: { streamName: string; events: EventInput[]; expectedState: unknown }[]) {
    this.alive();
    await Promise.resolve();
    if (this.server.faults.noMultiStreamAppend) throw new FakeError('unsupported', 'multiStreamAppend is not supported by the server (requires 25.1)');
    const position = this.server.write(
      requests.map((r) => ({ stream: r.streamName, expected: r.expectedState, events: r.events })),
      this.server.faults.transactionalMultiAppend,
    );
    return { position, responses: requests.map((r) => ({ streamName: r.streamName, revision: 0n })) };
  }

  async appendToStream(stream: string, events: EventInput | EventInput[], options: { streamState?: unknown } = {}) {
    this.alive();
    await Promise.resolve();
    const list = Array.isArray(events) ? events : [events];
    const commit = this.server.write([{ stream, expected: options.streamState ?? 'any', events: list }]);
    return { success: true, nextExpectedRevision: BigInt((this.server.streams.get(stream)?.length ?? 0) - 1), position: { commit, prepare: commit } };
  }

  readStream(stream: string, options: { fromRevision?: unknown; direction?: string; maxCount?: number | bigint } = {}) {
    const server = this.server;
    const alive = (): void => this.alive();
    return (async function* () {
      alive();
      await Promise.resolve();
      const stored = server.streams.get(stream);
      if (!stored || stored.length === 0) throw new FakeError('stream-not-found', `${stream} not found`);
      const max = Number(options.maxCount ?? Number.MAX_SAFE_INTEGER);
      const backwards = options.direction === 'backwards';
      const from = options.fromRevision === undefined || options.fromRevision === 'start' ? (backwards ? -1 : 0) : options.fromRevision === 'end' ? (backwards ? stored.length - 1 : stored.length) : Number(options.fromRevision);
      const picked = backwards ? stored.slice(0, from + 1).reverse() : stored.slice(from);
      for (const record of picked.slice(0, max)) yield server.view(record);
    })();
  }

  readAll(options: { fromPosition?: unknown; maxCount?: number | bigint; filter?: Filter; direction?: string } = {}) {
    const server = this.server;
    const alive = (): void => this.alive();
    return (async function* () {
      alive();
      await Promise.resolve();
      const from = options.fromPosition;
      const max = Number(options.maxCount ?? Number.MAX_SAFE_INTEGER);
      let count = 0;
      for (const record of [...server.log]) {
        if (typeof from === 'object' && from !== null && compare(record.position, from as Position) < 0) continue;
        if (!matches(options.filter, record.streamId)) continue;
        if (count++ >= max) return;
        yield server.view(record);
      }
    })();
  }

  subscribeToAll(options: { fromPosition?: unknown; filter?: Filter } = {}) {
    this.alive();
    const server = this.server;
    server.subscriptionsOpened += 1;
    const emitter = new EventEmitter() as EventEmitter & { unsubscribe(): Promise<void> };
    let closed = false;
    let delivered = 0;
    let stalled = false;
    const failing = server.faults.failSubscriptions && server.faults.failSubscriptions.count > 0 ? server.faults.failSubscriptions : undefined;
    if (failing) failing.count -= 1;
    let cursor: Position | undefined = typeof options.fromPosition === 'object' ? (options.fromPosition as Position) : undefined;
    const queue: StoredRecord[] = [];
    const offer = (record: StoredRecord): void => {
      if (closed || stalled) return;
      if (cursor && compare(record.position, cursor) <= 0) return;
      if (!matches(options.filter, record.streamId)) return;
      if (server.faults.stallAt?.(record.streamId, record.revision)) {
        stalled = true;
        return;
      }
      if (failing && delivered >= failing.afterEvents) {
        closed = true;
        emitter.emit('error', new FakeError('unavailable', 'connection to the node was lost'));
        return;
      }
      cursor = record.position;
      delivered += 1;
      emitter.emit('data', server.view(record));
    };
    const stop = server.onAppend((record) => queue.push(record));
    setImmediate(() => {
      if (failing && failing.afterEvents === 0) {
        closed = true;
        emitter.emit('error', new FakeError('unavailable', 'connection to the node was lost'));
        return;
      }
      for (const record of [...server.log]) offer(record);
      if (!closed && !stalled) emitter.emit('caughtUp', { date: new Date() });
      const drain = (): void => {
        if (closed) return;
        while (queue.length > 0) offer(queue.shift()!);
        setTimeout(drain, 2);
      };
      drain();
    });
    emitter.unsubscribe = async () => {
      closed = true;
      stop();
    };
    return emitter;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }
}
