// Experiment events: an experiment is a named group of runs (MLflow's tracking concept), one stream
// `experiment-<experimentId>` per experiment. The id is derived from the name (src/server/mlflow/
// experiments.ts), so creating the same name twice meets the same stream and is refused there.
// Which experiment a run belongs to is recorded in the run's own signed environment; the
// experiment stream keeps an index of its runs (ExperimentRunAdded) that readers check against it.
import { z } from 'zod';
import { defineEvent, type EventDefinition } from './registry.js';

/** Every experiment stream is `experiment-<experimentId>`. */
export const EXPERIMENT_STREAM_PREFIX = 'experiment-';
export const EXPERIMENT_TYPES = ['ExperimentCreated', 'ExperimentRunAdded'] as const;

/** MLflow's experiment id grammar (mlflow/utils/validation.py `_EXPERIMENT_ID_REGEX`). */
export const ExperimentId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be a letter or digit followed by up to 63 letters, digits, "_" or "-"');

export const ExperimentCreated = z
  .object({
    experimentId: ExperimentId,
    /** Any text up to MLflow's limit of 500 characters, e.g. "/Users/alice/iris". */
    name: z.string().min(1).max(500),
    /** Where the experiment's runs keep artifacts, as MLflow clients read it (`mlflow-artifacts:/<id>`). */
    artifactLocation: z.string().min(1).max(1000),
    tags: z.record(z.string().min(1).max(250), z.string().max(20_000)),
  })
  .strict();
export type ExperimentCreated = z.infer<typeof ExperimentCreated>;

export const ExperimentRunAdded = z
  .object({
    experimentId: ExperimentId,
    /** The run, whose own signed environment (client.mlflow.experimentId) names this experiment too. */
    runId: z.string().min(1).max(128),
  })
  .strict();
export type ExperimentRunAdded = z.infer<typeof ExperimentRunAdded>;

export const experimentEvents: EventDefinition[] = [
  defineEvent('ExperimentCreated', 1, ExperimentCreated, 'An experiment (a named group of runs, as MLflow has them) was created, with its id, name, artifact location and tags; the first event of its stream.'),
  defineEvent('ExperimentRunAdded', 1, ExperimentRunAdded, "A run was created in an experiment: the experiment's index of its runs (the run's own environment names the experiment as well, and a reader believes only both together)."),
];
