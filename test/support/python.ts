// The Python interpreter the cross-language suites run: RUNLEDGER_PYTHON, else the virtualenv
// `.ci/run` creates at the repository root (.ci-venv, with pinned mlflow-skinny, cryptography and
// jsonschema), else python3 on PATH. Bytecode is never written next to docs/verify_bundle.py.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './cli.js';

/** The virtualenv `.ci/run` creates, and the command that creates it. */
export const CI_VENV = join(repoRoot, '.ci-venv');
export const CI_VENV_COMMAND = 'python3 -m venv .ci-venv && .ci-venv/bin/pip install mlflow-skinny==3.17.2 cryptography jsonschema';
/** The MLflow client version the MLflow suite is written against (docs/mlflow.md). */
export const MLFLOW_VERSION = '3.17.2';

const venvPython = join(CI_VENV, 'bin', 'python');
export const PYTHON = process.env.RUNLEDGER_PYTHON || (existsSync(venvPython) ? venvPython : 'python3');
process.env.PYTHONDONTWRITEBYTECODE = '1';

/**
 * Whether PYTHON imports `modules`: `{ ok: true }`, or `{ reason }` — one line saying what is
 * missing and how to get it, for a suite to print before it skips.
 */
export function pythonWith(modules: readonly string[], check = ''): { ok: true } | { ok: false; reason: string } {
  const probe = spawnSync(PYTHON, ['-c', `import ${modules.join(', ')}\n${check}`], { encoding: 'utf8' });
  if (probe.status === 0) return { ok: true };
  const why = probe.error ? `${PYTHON} cannot be run (${probe.error.message})` : `${PYTHON}: ${(probe.stderr.trim().split('\n').pop() ?? '').slice(0, 200)}`;
  return { ok: false, reason: `${why}; to enable: ${CI_VENV_COMMAND} (what .ci/run does), or set RUNLEDGER_PYTHON to an interpreter that has them` };
}
