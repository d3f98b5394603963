// The dashboard's live read model: it follows the store (catch up, then live), feeds every event
// through the projections' one wiring (`project`, projections/projection.ts) — run summaries with
// provenance and the comparison graph — and tells SSE clients what moved. What a run *is* (status,
// stages, plan, metrics, graph edges) comes from those projections; besides them it keeps only the
// recorded events a page lists verbatim (telemetry samples, checkpoint events with their signatures,
// findings, comparison and gate records), keyed by the stream they were recorded on.
import { Subject, type Observable, type Subscription } from 'rxjs';
import type { AuditFindingData } from '../../events/governance.js';
import type { MetricPoint, MetricsLogged } from '../../events/runs.js';
import { TelemetrySampleV2Metrics, type CheckpointWritten, type TelemetrySample, type TrainingStarted } from '../../events/training.js';
import type { ComparisonRecordedData, RegressionGateEvaluatedData } from '../../events/comparison.js';
import { project, start, type Projected } from '../../projections/projection.js';
import { comparisonGraphProjection, type GraphState } from '../../projections/comparison-graph.js';
import { eventData, RUN_STREAM_PREFIX, runSummaryProjection, type RunProvenance, type RunSummaries } from '../../projections/run-summary.js';
import { runSummaryDigest } from '../governance/run-state.js';
import type { EventStore, RecordedEvent } from '../store/port.js';
import type { ChangeMessage } from './api-types.js';

type Topic = ChangeMessage['topics'][number];

/** The recorded events of one run stream that pages list as they are. */
export interface RunRecords {
  runId: string;
  telemetry: { sample: TelemetrySample; recordedAt: string }[];
  /** Metric points in log order (MetricsLogged, and the loss and accuracy of version 2 samples), with their stage. */
  metrics: { stage: string; point: MetricPoint; recordedAt: string }[];
  checkpoints: { data: CheckpointWritten; recordedAt: string }[];
  findings: { data: AuditFindingData; recordedAt: string }[];
  /** As the latest TrainingStarted announced them (the projection keeps neither). */
  worker: string | null;
  totalSteps: number | null;
  updatedAt: string | null;
}

/** A run as the API serves it: the projection's provenance plus the run's listed records. */
export interface RunRecord extends RunRecords {
  provenance: RunProvenance;
  campaign: string | null;
}

export interface ComparisonRecord {
  data: ComparisonRecordedData;
  gate: RegressionGateEvaluatedData | null;
  recordedAt: string;
  gateRecordedAt: string | null;
}

export interface LiveViewOptions {
  /** Poll interval of the store subscription (cross-process appends); ms. */
  pollMs?: number;
  /** How long changes are gathered before one message goes out; ms. */
  batchMs?: number;
}

const PAGE = 5_000;

export class LiveView {
  /** Store position of the last event folded in; -1 before any. */
  position = -1;
  summaries: Projected<RunSummaries> = start(runSummaryProjection);
  graph: Projected<GraphState> = start(comparisonGraphProjection);
  readonly comparisons = new Map<string, ComparisonRecord>();

  private readonly records = new Map<string, RunRecords>();
  private readonly events = new Subject<RecordedEvent>();
  private readonly changeSubject = new Subject<ChangeMessage>();
  private subscription: Subscription | undefined;
  private pendingRuns = new Set<string>();
  private pendingTopics = new Set<Topic>();
  private flushTimer: NodeJS.Timeout | undefined;
  private failure: Error | undefined;

  private constructor(
    private readonly store: EventStore,
    private readonly options: LiveViewOptions,
  ) {
    // The projections' own wiring; the Subject is synchronous, so state is current after next().
    this.events.pipe(project(runSummaryProjection)).subscribe((p) => (this.summaries = p));
    this.events.pipe(project(comparisonGraphProjection)).subscribe((p) => (this.graph = p));
  }

  /** Folds the whole log so far, then follows it live. */
  static async open(store: EventStore, options: LiveViewOptions = {}): Promise<LiveView> {
    const view = new LiveView(store, options);
    for (;;) {
      const page = await store.readAll({ after: view.position, limit: PAGE });
      for (const event of page) view.apply(event);
      if (page.length < PAGE) break;
    }
    view.pendingRuns.clear();
    view.pendingTopics.clear();
    view.subscription = store.subscribe({ after: view.position, pollMs: options.pollMs ?? 100 }).subscribe({
      next: (event) => {
        view.apply(event);
        view.scheduleFlush();
      },
      error: (err: unknown) => {
        view.failure = err instanceof Error ? err : new Error(String(err));
        view.changeSubject.error(view.failure);
      },
    });
    return view;
  }

  /** One message per batch of events; errors when the store subscription fails. */
  get changes(): Observable<ChangeMessage> {
    return this.changeSubject.asObservable();
  }

  /** The store subscription's failure, if it failed (the server then answers 503). */
  get error(): Error | undefined {
    return this.failure;
  }

  /** Run ids the run-summary projection knows, i.e. runs with events on their own stream. */
  runIds(): string[] {
    return this.summaries.state.runs.sortedKeys();
  }

  run(runId: string): RunRecord | undefined {
    const provenance = this.summaries.state.runs.get(runId);
    if (!provenance) return undefined;
    const records = this.records.get(runId) ?? { runId, telemetry: [], metrics: [], checkpoints: [], findings: [], worker: null, totalSteps: null, updatedAt: null };
    const campaign = [...this.summaries.state.campaigns.values()].find((c) => c.runs.some((r) => r.runId === runId))?.campaign ?? null;
    return { ...records, provenance, campaign };
  }

  close(): void {
    this.subscription?.unsubscribe();
    this.events.complete();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.changeSubject.complete();
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      const message: ChangeMessage = { position: this.position, runs: [...this.pendingRuns].sort(), topics: [...this.pendingTopics].sort() };
      this.pendingRuns.clear();
      this.pendingTopics.clear();
      this.changeSubject.next(message);
    }, this.options.batchMs ?? 100);
  }

  private touch(runId: string | null, ...topics: Topic[]): void {
    if (runId) this.pendingRuns.add(runId);
    for (const t of topics) this.pendingTopics.add(t);
  }

  private record(runId: string): RunRecords {
    let run = this.records.get(runId);
    if (!run) {
      run = { runId, telemetry: [], metrics: [], checkpoints: [], findings: [], worker: null, totalSteps: null, updatedAt: null };
      this.records.set(runId, run);
    }
    return run;
  }

  /** Folds one event into the projections and the listed records. */
  apply(event: RecordedEvent): void {
    this.position = Math.max(this.position, event.position);
    this.events.next(event);
    const { envelope } = event;
    const recordedAt = envelope.metadata.recordedAt;
    this.touch(null, 'verification');
    if (envelope.stream.startsWith(RUN_STREAM_PREFIX)) {
      const run = this.record(envelope.stream.slice(RUN_STREAM_PREFIX.length));
      run.updatedAt = recordedAt;
      this.touch(run.runId, 'runs', 'graph');
      switch (envelope.type) {
        case 'TelemetrySample': {
          const sample = eventData(event) as TelemetrySample;
          run.telemetry.push({ sample, recordedAt });
          // Version 2 samples carried the step's loss and accuracy, which version 3 leaves to MetricsLogged.
          const old = envelope.schemaVersion < 3 ? TelemetrySampleV2Metrics.safeParse(envelope.data) : null;
          if (old?.success) {
            const timestamp = Date.parse(recordedAt);
            for (const key of ['loss', 'accuracy'] as const) {
              const value = old.data[key];
              if (value !== null && Number.isFinite(value)) run.metrics.push({ stage: sample.tags.stage, point: { key, value, step: sample.step, timestamp }, recordedAt });
            }
          }
          this.touch(run.runId, 'telemetry');
          break;
        }
        case 'MetricsLogged': {
          const logged = eventData(event) as MetricsLogged;
          for (const point of logged.metrics) run.metrics.push({ stage: logged.stageId, point, recordedAt });
          this.touch(run.runId, 'telemetry');
          break;
        }
        case 'TrainingStarted': {
          const started = eventData(event) as TrainingStarted;
          run.worker = started.worker;
          run.totalSteps = started.totalSteps;
          break;
        }
        case 'CheckpointWritten':
          run.checkpoints.push({ data: eventData(event) as CheckpointWritten, recordedAt });
          this.touch(run.runId, 'checkpoints');
          break;
        case 'AuditFinding':
          run.findings.push({ data: eventData(event) as AuditFindingData, recordedAt });
          this.touch(run.runId, 'gates');
          break;
      }
      return;
    }
    switch (envelope.type) {
      case 'CampaignStarted':
      case 'CampaignRunCompleted':
      case 'CampaignCompleted':
      case 'RunLinked':
        this.touch(null, 'graph', 'runs');
        break;
      case 'ComparisonRecorded': {
        const c = eventData(event) as ComparisonRecordedData;
        const existing = this.comparisons.get(c.comparisonId);
        this.comparisons.set(c.comparisonId, { data: c, gate: existing?.gate ?? null, recordedAt, gateRecordedAt: existing?.gateRecordedAt ?? null });
        this.touch(null, 'comparisons', 'graph');
        break;
      }
      case 'RegressionGateEvaluated': {
        const g = eventData(event) as RegressionGateEvaluatedData;
        const existing = this.comparisons.get(g.comparisonId);
        if (existing) {
          existing.gate = g;
          existing.gateRecordedAt = recordedAt;
          for (const runId of existing.data.candidate.runs) this.touch(runId, 'runs');
        }
        this.touch(null, 'gates', 'comparisons', 'graph');
        break;
      }
    }
  }

  /** Digest of a run's governance summary (SHA-256 of its JCS form, what RunCompleted records). */
  summaryDigest(runId: string): string | undefined {
    const run = this.summaries.state.runs.get(runId);
    return run ? runSummaryDigest(run.governance) : undefined;
  }
}
