// Prometheus metrics of `runledger serve` (prom-client; names and labels in docs/operations.md,
// "Metrics"). Counters and histograms are what this process did (HTTP requests, its own appends);
// gauges are read from the store at scrape time, so they describe the ledger whoever writes it.
// Read-only: a scrape never writes, and every value comes from the same store port the API reads.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { consumerName } from '../../projections/projection.js';
import { projections } from '../../projections/index.js';
import type { EventStore } from '../store/port.js';
import type { VerificationBadge } from './api-types.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Lag is counted by reading events, so it stops counting here (the gauge then says "at least"). */
export const LAG_CAP = 10_000;
const LAG_PAGE = 2_500;

export interface MetricsSources {
  store: EventStore;
  /** Store position the dashboard's own subscription has reached. */
  livePosition: () => number;
  /** The verification badge of every run (the dashboard's, cached per run revision). */
  badges: () => Promise<VerificationBadge[]>;
  /** Extra stored consumer positions to report (relays: `relay:<topic>`), beside the projections'. */
  consumers?: readonly string[];
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly appended: Counter;
  private readonly appendSeconds: Histogram;
  private readonly httpRequests: Counter;
  private readonly httpSeconds: Histogram;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    const { store } = sources;
    // One store read per scrape, shared by the gauges below.
    let snapshot: Promise<LedgerSnapshot> | undefined;
    const read = (): Promise<LedgerSnapshot> => (snapshot ??= readSnapshot(store).finally(() => setImmediate(() => (snapshot = undefined))));
    const gauge = (name: string, help: string, value: (s: LedgerSnapshot) => number | null): void => {
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          const v = value(await read());
          if (v === null) this.reset();
          else this.set(v);
        },
      });
    };
    gauge('runledger_log_events', 'Events integrated into the RFC 9162 tree (its size).', (s) => s.treeSize);
    gauge('runledger_integration_pending_events', 'Events committed but not integrated into the tree yet (integration lag, in events).', (s) => s.pending);
    gauge('runledger_unanchored_events', 'Recorded events not covered by the latest signed checkpoint.', (s) => s.treeSize + s.pending - (s.checkpoint?.size ?? 0));
    gauge('runledger_checkpoints', 'Signed checkpoints stored.', (s) => s.checkpoints);
    gauge('runledger_checkpoint_tree_size', 'Tree size of the latest signed checkpoint (absent before the first).', (s) => s.checkpoint?.size ?? null);
    gauge('runledger_checkpoint_age_seconds', 'Seconds since the latest checkpoint was stored (absent before the first).', (s) => (s.checkpoint ? Math.max(0, (Date.now() - Date.parse(s.checkpoint.createdAt)) / 1000) : null));

    new Gauge({
      name: 'runledger_runs_verification',
      help: 'Runs by dashboard verification badge (the full run replay against the latest signed checkpoint).',
      labelNames: ['status'],
      registers,
      async collect() {
        const badges = await sources.badges();
        this.reset();
        for (const status of ['verified', 'failed', 'unsigned', 'pending'] as const) this.set({ status }, 0);
        for (const b of badges) this.inc({ status: b });
      },
    });

    const consumers = [...projections.map(consumerName), ...(sources.consumers ?? [])];
    new Gauge({
      name: 'runledger_consumer_position',
      help: 'Stored position of a consumer (projection or relay); absent for consumers that never stored one.',
      labelNames: ['consumer'],
      registers,
      async collect() {
        this.reset();
        for (const consumer of consumers) {
          const p = await store.getPosition(consumer);
          if (p !== undefined) this.set({ consumer }, p);
        }
      },
    });
    new Gauge({
      name: 'runledger_consumer_lag_events',
      help: `Events recorded after a consumer's stored position (counted up to ${LAG_CAP}); consumer "serve" is this server's live subscription.`,
      labelNames: ['consumer'],
      registers,
      async collect() {
        this.reset();
        this.set({ consumer: 'serve' }, await eventsAfter(store, sources.livePosition()));
        for (const consumer of consumers) {
          const p = await store.getPosition(consumer);
          if (p !== undefined) this.set({ consumer }, await eventsAfter(store, p));
        }
      },
    });

    // This process's own work, then prom-client's process metrics: the ledger's state reads first.
    this.appended = new Counter({ name: 'runledger_events_appended_total', help: 'Events this server process appended to the store (duplicate retries excluded).', registers });
    this.appendSeconds = new Histogram({
      name: 'runledger_append_duration_seconds',
      help: 'Duration of this server process\'s store appends: validate, seal, integrate, durable commit.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.httpRequests = new Counter({ name: 'runledger_http_requests_total', help: 'HTTP requests answered, by method, route template and status code.', labelNames: ['method', 'route', 'status'], registers });
    this.httpSeconds = new Histogram({ name: 'runledger_http_request_duration_seconds', help: 'HTTP request duration, by method and route template.', labelNames: ['method', 'route'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers });

    collectDefaultMetrics({ register: this.registry, prefix: 'runledger_' });
  }

  /** The store with its appends timed and counted; every other call passes through unchanged. */
  instrument(store: EventStore): EventStore {
    const appended = this.appended;
    const seconds = this.appendSeconds;
    return new Proxy(store, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (property === 'append' || property === 'appendBatch') {
          return async (...args: unknown[]) => {
            const end = seconds.startTimer();
            try {
              const result = await (value as (...a: unknown[]) => Promise<{ duplicate: boolean; positions: number[] }>).apply(target, args);
              if (!result.duplicate) appended.inc(result.positions.length);
              return result;
            } finally {
              end();
            }
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  observeHttp(method: string, route: string, status: number, seconds: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
    this.httpSeconds.observe({ method, route }, seconds);
  }

  async exposition(): Promise<string> {
    return this.registry.metrics();
  }
}

interface LedgerSnapshot {
  treeSize: number;
  pending: number;
  checkpoints: number;
  checkpoint: { size: number; createdAt: string } | undefined;
}

async function readSnapshot(store: EventStore): Promise<LedgerSnapshot> {
  const checkpoints = await store.checkpoints();
  const [tree, pending] = await Promise.all([store.treeState(), store.unintegrated()]);
  const latest = checkpoints.at(-1);
  return { treeSize: tree.size, pending, checkpoints: checkpoints.length, checkpoint: latest && { size: latest.size, createdAt: latest.createdAt } };
}

/** Events after a position, counted by reading them (positions are opaque: never subtracted). */
async function eventsAfter(store: EventStore, position: number): Promise<number> {
  let count = 0;
  for (let after = position; count < LAG_CAP; ) {
    const page = await store.readAll({ after, limit: Math.min(LAG_PAGE, LAG_CAP - count) });
    count += page.length;
    if (page.length === 0) break;
    after = page[page.length - 1]!.position;
  }
  return count;
}
