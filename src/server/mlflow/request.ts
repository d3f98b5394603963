// Request and route plumbing shared by MLflow's tracking and registry routes: request parsing with
// MLflow's error shape, page tokens, and each route's OpenAPI doc.
import { z } from 'zod';
import type { DocumentedConfig, RouteDoc } from '../route-doc.js';
import { invalid, MLFLOW_ERROR_SCHEMA } from './errors.js';

/** Parses a body or query with `schema`: INVALID_PARAMETER_VALUE naming the field on failure. */
export function parseRequest<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.map(String).join('.');
  throw invalid(`${where}: ${field ? `field ${field}: ` : ''}${issue.message}`);
}

/** A list field: in a GET query one value arrives as a string, several as repeated keys (an array). */
export const StringList = z.preprocess((v) => (typeof v === 'string' ? [v] : v), z.array(z.string()).max(100));

/** A page token: the offset of the next item, as MLflow clients pass it back unchanged. */
export function pageOffset(token: string | undefined, where: string): number {
  if (token === undefined || token === '') return 0;
  if (!/^\d{1,9}$/.test(token)) throw invalid(`${where}: page_token ${JSON.stringify(token.slice(0, 40))} is not a token this server gave`);
  return Number(token);
}

export function page<T>(items: readonly T[], offset: number, max: number): { items: T[]; next?: string } {
  const slice = items.slice(offset, offset + max);
  return offset + max < items.length ? { items: slice, next: String(offset + max) } : { items: slice };
}

const OK = { '200': { description: 'done', schema: { type: 'object' } } };
const jsonSchema = (schema: z.ZodType): Record<string, unknown> => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;

export function doc(input: { body?: z.ZodType; query?: z.ZodType }, summary: string, description?: string, extra: RouteDoc['responses'] = {}, ok: RouteDoc['responses'] = OK): DocumentedConfig {
  const errors = Object.fromEntries(
    [
      ['400', 'INVALID_PARAMETER_VALUE (bad field, write-once param changed, write rule refused) or RESOURCE_ALREADY_EXISTS'],
      ['401', 'UNAUTHENTICATED: missing or wrong bearer token'],
      ['403', 'PERMISSION_DENIED: the server is read-only (started without --token)'],
      ['404', 'RESOURCE_DOES_NOT_EXIST'],
      ['429', 'REQUEST_LIMIT_EXCEEDED; Retry-After says when to retry'],
    ].map(([status, d]) => [status!, { description: d!, schema: MLFLOW_ERROR_SCHEMA }]),
  );
  const schemas = { ...(input.body ? { body: jsonSchema(input.body) } : {}), ...(input.query ? { query: jsonSchema(input.query) } : {}) };
  return { doc: { summary, ...(description ? { description } : {}), ...schemas, tag: 'mlflow', auth: true, responses: { ...ok, ...errors, ...extra } } };
}
