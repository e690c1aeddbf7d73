/**
 * The one error type of the engine. Providers and transport create it, the pipeline decides on it
 * (retry, fail over, give up), and the server renders it into each client dialect's error shape.
 */

export type ErrorKind =
  // upstream outcomes, as classified by providers/ and transport/
  | 'rate_limited'
  | 'overloaded'
  | 'server'
  | 'timeout'
  | 'connection'
  | 'context_length'
  | 'content_policy'
  | 'auth'
  | 'bad_request'
  | 'not_found'
  // decided by the gateway itself
  | 'budget'
  | 'payload_too_large'
  | 'method_not_allowed'
  | 'unavailable'
  | 'internal';

/** Kinds for which another attempt (same or other deployment) may succeed. */
const RETRYABLE: ReadonlySet<ErrorKind> = new Set(['rate_limited', 'overloaded', 'server', 'timeout', 'connection']);

const DEFAULT_STATUS: Record<ErrorKind, number> = {
  rate_limited: 429,
  overloaded: 503,
  server: 502,
  timeout: 504,
  connection: 502,
  context_length: 400,
  content_policy: 400,
  auth: 401,
  bad_request: 400,
  not_found: 404,
  budget: 429,
  payload_too_large: 413,
  method_not_allowed: 405,
  unavailable: 503,
  internal: 500,
};

export interface GatewayErrorInit {
  /** HTTP status to show the client; defaults by kind. */
  status?: number;
  /** Machine-readable code, e.g. `model_not_found`, `first_byte_timeout`. */
  code?: string;
  /** The request field at fault, if any. */
  param?: string;
  retryable?: boolean;
  /** How long the upstream asked us to wait before trying it again. */
  retryAfterMs?: number;
  upstreamRequestId?: string;
  /** Status the upstream answered with, when the error came from an upstream response. */
  upstreamStatus?: number;
  /** `provider/model` that produced the error. */
  deployment?: string;
  cause?: unknown;
}

export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  readonly kind: ErrorKind;
  readonly status: number;
  readonly code: string | undefined;
  readonly param: string | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly upstreamRequestId: string | undefined;
  readonly upstreamStatus: number | undefined;
  deployment: string | undefined;

  constructor(kind: ErrorKind, message: string, init: GatewayErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.kind = kind;
    this.status = init.status ?? DEFAULT_STATUS[kind];
    this.code = init.code;
    this.param = init.param;
    this.retryable = init.retryable ?? RETRYABLE.has(kind);
    this.retryAfterMs = init.retryAfterMs;
    this.upstreamRequestId = init.upstreamRequestId;
    this.upstreamStatus = init.upstreamStatus;
    this.deployment = init.deployment;
  }
}

export function isGatewayError(err: unknown): err is GatewayError {
  return err instanceof GatewayError;
}

/** Wraps anything thrown into a GatewayError without leaking its internals to clients. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError('internal', 'Internal gateway error', { cause: err });
}
