// Typed fetches of the JSON API; errors surface as the server's one-sentence {error}.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function getJson<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(path, { ...init, headers: { accept: 'application/json', ...(init.headers ?? {}) } });
  const body = (await response.json().catch(() => ({ error: `HTTP ${response.status}` }))) as T & { error?: string };
  if (!response.ok) throw new ApiError(response.status, body.error ?? `HTTP ${response.status}`);
  return body;
}

export function runPath(runId: string, suffix = ''): string {
  return `/api/runs/${encodeURIComponent(runId)}${suffix}`;
}
