// Requests to a serve's MLflow routes, and the two answers the MLflow suites expect: 200 with a JSON
// body, or a refusal in MLflow's error shape (error_code and a one-sentence message). Shared by the
// tracking and registry suites.
import assert from 'node:assert/strict';

export interface Answer {
  status: number;
  json: Record<string, unknown>;
}

/** `method` /api/2.0/mlflow/`path` on the server at `url`, with the bearer token unless it is null. */
export async function mlflowCall(url: string, method: string, path: string, body: unknown, token: string | null): Promise<Answer> {
  const res = await fetch(`${url}/api/2.0/mlflow/${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** The body of a 200 answer; anything else fails naming the path and the answer. */
export function answered(answer: Answer, path: string): Record<string, unknown> {
  assert.equal(answer.status, 200, `${path}: ${JSON.stringify(answer.json)}`);
  return answer.json;
}

/** MLflow's error shape, exactly: error_code and a one-sentence message, which is returned. */
export function refused(answer: Answer, status: number, code: string): string {
  assert.equal(answer.status, status, JSON.stringify(answer.json));
  assert.deepEqual(Object.keys(answer.json).sort(), ['error_code', 'message']);
  assert.equal(answer.json.error_code, code, JSON.stringify(answer.json));
  const message = answer.json.message as string;
  assert.ok(message.length > 0 && !message.includes('\n'));
  return message;
}
