// What a route says about itself for the OpenAPI document (src/server/openapi.ts): carried in its
// fastify `config.doc`, next to the JSON Schemas that validate its input.
type JsonSchema = Record<string, unknown>;

export interface ResponseDoc {
  description: string;
  /** JSON body schema; omitted for an empty body. */
  schema?: JsonSchema;
  /** Default application/json. */
  contentType?: string;
}

export interface RouteDoc {
  summary: string;
  description?: string;
  /** The group the route is listed under: dashboard, write, mlflow, mlflow-artifacts, meta. */
  tag: string;
  /** Whether the route needs `Authorization: Bearer <token>`. */
  auth: boolean;
  /** JSON Schema of a JSON body the handler checks itself (when the route has no `schema.body`). */
  body?: JsonSchema;
  /** JSON Schema (an object's) of a query the handler checks itself (when the route has no `schema.querystring`). */
  query?: JsonSchema;
  /** A request body other than JSON (NDJSON events, raw artifact bytes). */
  rawBody?: { contentType: string; description: string };
  responses: Record<string, ResponseDoc>;
}

/** The `config` of a documented route. */
export interface DocumentedConfig {
  doc: RouteDoc;
}

