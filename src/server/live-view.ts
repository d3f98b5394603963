// The dashboard's live read model: it follows the store (catch up, then live) and folds every event
// through the projections' reducers, then tells SSE clients what moved. It holds no logic of its
// own about what a run *is*: the run summary is the governance reducer (`evolveRun`, whose digest
// replay recomputes); telemetry, checkpoints, findings, comparisons and gates are the recorded events.
import { Subject, type Observable, type Subscription } from 'rxjs';
import type { AuditFindingData } from '../../events/governance.js';
import type {
  CampaignStarted,
  CheckpointWritten,
  RunEnvironmentRecorded,
  TelemetrySample,
  TrainingCompleted,
  TrainingStarted,
} from '../../events/training.js';
import type { ComparisonRecordedData, RegressionGateEvaluatedData, RunLinkedData } from '../../events/comparison.js';
import type { GovernancePlanApprovedData } from '../../events/governance.js';
import { runStream } from '../governance/recorder.js';
import { evolveRun, initialRunState, runSummaryDigest, type RunSummary } from '../governance/run-state.js';
import type { EventStore, RecordedEvent } from '../store/port.js';
import type { ChangeMessage } from './api-types.js';

type Topic = ChangeMessage['topics'][number];

export interface RunRecord {
  runId: string;
  summary: RunSummary;
  plan: GovernancePlanApprovedData['plan'] | null;
  started: TrainingStarted | null;
  environment: RunEnvironmentRecorded | null;
  completed: TrainingCompleted | null;
  telemetry: { sample: TelemetrySample; recordedAt: string }[];
  checkpoints: { data: CheckpointWritten; recordedAt: string }[];
  findings: { data: AuditFindingData; recordedAt: string }[];
  campaign: string | null;
  updatedAt: string | null;
}

export interface CampaignRecord {
  campaign: string;
  runs: string[];
  completed: boolean;
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
  readonly runs = new Map<string, RunRecord>();
  readonly campaigns = new Map<string, CampaignRecord>();
  readonly comparisons = new Map<string, ComparisonRecord>();
  readonly links: { data: RunLinkedData; recordedAt: string }[] = [];
  /** Store position of the last event folded in; -1 before any. */
  position = -1;

  private readonly changeSubject = new Subject<ChangeMessage>();
  private subscription: Subscription | undefined;
  private pendingRuns = new Set<string>();
  private pendingTopics = new Set<Topic>();
  private flushTimer: NodeJS.Timeout | undefined;
  private failure: Error | undefined;

  private constructor(
    private readonly store: EventStore,
    private readonly options: LiveViewOptions,
  ) {}

  /** Folds the whole log so far, then follows it live. */
  static async open(store: EventStore, options: LiveViewOptions = {}): Promise<LiveView> {
    const view = new LiveView(store, options);
    for (;;) {
      const page = await store.readAll({ from: view.position, limit: PAGE });
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

  run(runId: string): RunRecord | undefined {
    return this.runs.get(runId);
  }

  close(): void {
    this.subscription?.unsubscribe();
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

  private record(runId: string): RunRecord {
    let run = this.runs.get(runId);
    if (!run) {
      run = {
        runId,
        summary: initialRunState(runId),
        plan: null,
        started: null,
        environment: null,
        completed: null,
        telemetry: [],
        checkpoints: [],
        findings: [],
        campaign: null,
        updatedAt: null,
      };
      this.runs.set(runId, run);
    }
    return run;
  }

  /** Folds one event. Events of unknown or custom types only advance the position. */
  apply(event: RecordedEvent): void {
    this.position = Math.max(this.position, event.position);
    const { envelope } = event;
    const data = envelope.data as Record<string, unknown>;
    const recordedAt = envelope.metadata.recordedAt;
    this.touch(null, 'verification');

    // Run summaries fold the run's own stream, exactly as the governance projection does.
    const subject = eventRunId(envelope.type, data);
    if (subject !== null && envelope.stream === runStream(subject)) {
      const run = this.record(subject);
      run.summary = evolveRun(run.summary, envelope);
      run.updatedAt = recordedAt;
      this.touch(subject, 'runs');
    }

    switch (envelope.type) {
      case 'GovernancePlanApproved': {
        const run = this.record(String(data.runId));
        run.plan = (data as GovernancePlanApprovedData).plan;
        this.touch(run.runId, 'runs', 'graph');
        break;
      }
      case 'RunEnvironmentRecorded':
        this.record(String(data.runId)).environment = data as RunEnvironmentRecorded;
        this.touch(String(data.runId), 'runs');
        break;
      case 'TrainingStarted':
        this.record(String(data.runId)).started = data as TrainingStarted;
        this.touch(String(data.runId), 'runs');
        break;
      case 'TelemetrySample': {
        const sample = data as TelemetrySample;
        const run = this.record(sample.tags.run);
        run.telemetry.push({ sample, recordedAt });
        run.updatedAt = recordedAt;
        this.touch(run.runId, 'runs', 'telemetry');
        break;
      }
      case 'CheckpointWritten':
        this.record(String(data.runId)).checkpoints.push({ data: data as CheckpointWritten, recordedAt });
        this.touch(String(data.runId), 'runs', 'checkpoints');
        break;
      case 'TrainingCompleted':
        this.record(String(data.runId)).completed = data as TrainingCompleted;
        this.touch(String(data.runId), 'runs');
        break;
      case 'AuditFinding':
        this.record(String(data.runId)).findings.push({ data: data as AuditFindingData, recordedAt });
        this.touch(String(data.runId), 'runs', 'gates');
        break;
      case 'CampaignStarted': {
        const c = data as CampaignStarted;
        this.campaigns.set(c.campaign, { campaign: c.campaign, runs: c.runs.map((r) => r.runId), completed: false });
        for (const r of c.runs) this.record(r.runId).campaign = c.campaign;
        this.touch(null, 'graph', 'runs');
        break;
      }
      case 'CampaignCompleted': {
        const c = this.campaigns.get(String(data.campaign));
        if (c) c.completed = true;
        this.touch(null, 'graph');
        break;
      }
      case 'ComparisonRecorded': {
        const c = data as ComparisonRecordedData;
        const existing = this.comparisons.get(c.comparisonId);
        this.comparisons.set(c.comparisonId, { data: c, gate: existing?.gate ?? null, recordedAt, gateRecordedAt: existing?.gateRecordedAt ?? null });
        this.touch(null, 'comparisons', 'graph');
        break;
      }
      case 'RegressionGateEvaluated': {
        const g = data as RegressionGateEvaluatedData;
        const existing = this.comparisons.get(g.comparisonId);
        if (existing) {
          existing.gate = g;
          existing.gateRecordedAt = recordedAt;
          for (const runId of existing.data.candidate.runs) this.touch(runId, 'runs');
        }
        this.touch(null, 'gates', 'comparisons');
        break;
      }
      case 'RunLinked':
        this.links.push({ data: data as RunLinkedData, recordedAt });
        this.touch(null, 'graph');
        break;
      default:
        break;
    }
  }

  /** Digest of a run's summary projection state (SHA-256 of its JCS form). */
  summaryDigest(runId: string): string | undefined {
    const run = this.runs.get(runId);
    return run ? runSummaryDigest(run.summary) : undefined;
  }
}

/** The run an event is about: `runId` in its data, or the telemetry tags' run. */
export function eventRunId(type: string, data: Record<string, unknown>): string | null {
  if (typeof data.runId === 'string') return data.runId;
  if (type === 'TelemetrySample' && typeof (data.tags as { run?: unknown } | undefined)?.run === 'string') return (data.tags as { run: string }).run;
  return null;
}
