// MLflow's error shape on MLflow routes: `{"error_code": "<ErrorCode name>", "message": "…"}`, with
// the codes of MLflow's protos (mlflow/protos/databricks.proto `ErrorCode`). The HTTP status is
// runledger's own (the same as on every other route), never a 5xx for a refusal: the MLflow client
// retries 408, 429, 500, 502, 503 and 504 (mlflow/utils/request_utils.py), and a refused write must
// fail at once, not after minutes of retries.
import type { FastifyError, FastifyInstance } from 'fastify';
import { describeError, HttpError, SECURITY_HEADERS } from '../security.js';

export type MlflowErrorCode =
  | 'INTERNAL_ERROR'
  | 'TEMPORARILY_UNAVAILABLE'
  | 'BAD_REQUEST'
  | 'INVALID_PARAMETER_VALUE'
  | 'ENDPOINT_NOT_FOUND'
  | 'MALFORMED_REQUEST'
  | 'INVALID_STATE'
  | 'PERMISSION_DENIED'
  | 'UNAUTHENTICATED'
  | 'REQUEST_LIMIT_EXCEEDED'
  | 'RESOURCE_ALREADY_EXISTS'
  | 'RESOURCE_DOES_NOT_EXIST'
  | 'RESOURCE_CONFLICT'
  | 'NOT_IMPLEMENTED';

/** An HTTP error that names its MLflow error code. */
export class MlflowError extends HttpError {
  constructor(
    readonly errorCode: MlflowErrorCode,
    statusCode: number,
    message: string,
    headers: Record<string, string> = {},
  ) {
    super(statusCode, message, headers);
  }
}

export const notFound = (message: string): MlflowError => new MlflowError('RESOURCE_DOES_NOT_EXIST', 404, message);
export const invalid = (message: string): MlflowError => new MlflowError('INVALID_PARAMETER_VALUE', 400, message);

/** The code for a status when the error does not name one. */
function codeFor(status: number, error: Error): MlflowErrorCode {
  const fastifyCode = (error as FastifyError).code;
  if (status === 400) return fastifyCode === 'FST_ERR_VALIDATION' || fastifyCode === undefined ? 'INVALID_PARAMETER_VALUE' : 'MALFORMED_REQUEST';
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 403 || status === 421) return 'PERMISSION_DENIED';
  if (status === 404) return 'RESOURCE_DOES_NOT_EXIST';
  if (status === 409) return 'RESOURCE_CONFLICT';
  if (status === 413 || status === 414 || status === 415) return 'BAD_REQUEST';
  if (status === 429) return 'REQUEST_LIMIT_EXCEEDED';
  if (status === 501) return 'NOT_IMPLEMENTED';
  if (status === 503) return 'TEMPORARILY_UNAVAILABLE';
  return status < 500 ? 'BAD_REQUEST' : 'INTERNAL_ERROR';
}

/** The MLflow-shaped body and status of any error a route or hook raised. */
export function mlflowError(error: Error): { status: number; body: { error_code: MlflowErrorCode; message: string }; headers: Record<string, string> } {
  const { status, message, headers } = describeError(error);
  const code = error instanceof MlflowError ? error.errorCode : codeFor(status, error);
  return { status, body: { error_code: code, message }, headers };
}

/** Error and not-found handlers of an MLflow route scope: every answer in MLflow's shape. */
export function installMlflowErrors(scope: FastifyInstance, prefix: string): void {
  scope.setErrorHandler(async (error: Error, _request, reply) => {
    const { status, body, headers } = mlflowError(error);
    for (const [name, value] of Object.entries(headers)) reply.header(name, value);
    return reply.code(status).send(body);
  });
  scope.setNotFoundHandler(async (request, reply) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
    const path = request.url.split('?')[0]!;
    return reply.code(404).send({
      error_code: 'ENDPOINT_NOT_FOUND',
      message: `${request.method} ${path} is not an endpoint of runledger's MLflow API under ${prefix} (docs/mlflow.md lists the supported ones)`,
    });
  });
}

/** JSON schema of the MLflow error body (OpenAPI). */
export const MLFLOW_ERROR_SCHEMA = {
  type: 'object',
  required: ['error_code', 'message'],
  properties: { error_code: { type: 'string' }, message: { type: 'string' } },
} as const;
