// The package `runledger`: the documented public surface (docs/api.md). Everything else under dist/
// is internal and may change without notice.
export { openLedger, type Ledger, type OpenLedgerOptions } from './api/ledger.js';
export {
  startRun,
  openRun,
  logBatch,
  externalPlan,
  artifactFile,
  DEFAULT_EXTERNAL_STAGES,
  type RunApiContext,
  type RunHandle,
  type StartRunOptions,
  type ExternalPlan,
  type MetricAt,
  type MetricInput,
  type RunBatch,
  type ArtifactInput,
  type ParamValue,
} from './runs/run.js';
export { describeEnvironment, type EnvironmentData, type EnvironmentOptions } from './runs/environment.js';
export { NAME_PATTERN, MAX_VALUE_LENGTH, MAX_ENTRIES, type MetricPoint, type ParamsLogged, type MetricsLogged, type TagsSet, type TagDeleted, type ArtifactRecorded } from '../events/runs.js';
export { parsePlan, readPlanFile } from './governance/plan-file.js';
export type { Plan } from './governance/plan.js';
export { openStore } from './store/open.js';
export { ANY, NO_STREAM, STREAM_EXISTS, type EventStore, type ExpectedRevision, type AppendResult, type RecordedEvent, type ReadStreamOptions, type ReadAllOptions, type SubscribeOptions } from './store/port.js';
export type { ProposedEvent, Envelope } from '../events/envelope.js';
export type { LedgerVerification } from './replay/ledger-verification.js';
export type { ReplayResult } from './replay/replay.js';
export type { InclusionProofReport, ConsistencyProofReport } from './ledger/proofs.js';
export type { CheckpointOutcome } from './ledger/checkpoint.js';
export { LedgerError, InputError, IntegrityError, UnavailableError, ConcurrencyError, type ErrorLocation } from './errors.js';
