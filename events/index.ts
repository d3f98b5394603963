// The event catalog: every event type runledger records, gathered into one registry.
// Each domain declares its events in its own file; add new catalogs here.
import { EventRegistry } from './registry.js';
import { governanceEvents } from './governance.js';
import { trainingEvents } from './training.js';
import { comparisonEvents } from './comparison.js';
import { ledgerEvents } from './ledger.js';
import { modelEvents } from './model.js';
import { runDataEvents } from './runs.js';
import { experimentEvents } from './experiments.js';
import { TRAINING_DATA_CHECKS } from './training-check.js';

export * from './envelope.js';
export { EventRegistry, defineEvent, isCustomType, CUSTOM_PREFIX, type EventDefinition } from './registry.js';

export const registry = new EventRegistry([...governanceEvents, ...trainingEvents, ...runDataEvents, ...comparisonEvents, ...modelEvents, ...ledgerEvents, ...experimentEvents], TRAINING_DATA_CHECKS);
