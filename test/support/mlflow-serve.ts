// `runledger serve --token` as a user starts it, and the Python interpreter the stock MLflow client
// runs in: shared by the MLflow client suites (tracking and registry).
import { spawn, type ChildProcess } from 'node:child_process';
import { cliPath } from './cli.js';
import { PYTHON } from './python.js';

export const MLFLOW_TEST_TOKEN = 'mlflow-client-test-token-0123456789';
const TOKEN = MLFLOW_TEST_TOKEN;

/** Starts `runledger serve` as a user would and resolves once it prints where it listens. */
export function serve(home: string): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, 'serve', '--port', '0', '--token', TOKEN], { env: { ...process.env, RUNLEDGER_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const m = /dashboard on (http:\/\/127\.0\.0\.1:\d+)\//.exec(err);
      if (m) resolve({ child, url: m[1]! });
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

export function python(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

