/**
 * Anthropic errors → GatewayError. Anthropic's body is `{"type":"error","error":{"type","message"}}` and
 * its HTTP statuses map one to one onto error types (400 invalid_request_error, 401 authentication_error,
 * 403 permission_error, 404 not_found_error, 413 request_too_large, 429 rate_limit_error, 500 api_error,
 * 529 overloaded_error), so an HTTP error is classified by status exactly as OpenAI's are — same kinds, same
 * client statuses, same redaction — and only a mid-stream `error` event, which has no status of its own, is
 * classified by its type. Pure.
 */
import { GatewayError, type GatewayErrorInit } from '../../errors.js';
import { secretsOf } from '../../secrets.js';
import { classifyOpenAIError } from '../openai/adapter.js';
import { header } from '../../resilience/retry-hints.js';
import type { Deployment, Headers } from '../../types.js';

interface WireError {
  type?: unknown;
  message?: unknown;
}

/** The status Anthropic answers each error type with, for errors that arrive inside a 200 stream. */
const STATUS_OF_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

function readWireError(bodyText: string): WireError {
  try {
    const parsed = JSON.parse(bodyText) as { error?: unknown };
    if (parsed && typeof parsed === 'object' && parsed.error && typeof parsed.error === 'object') return parsed.error as WireError;
  } catch {
    // Not JSON (a proxy's HTML page): the status alone classifies it.
  }
  return {};
}

/** A copy of `e` with some fields changed (GatewayError is immutable by design). */
function withChanges(e: GatewayError, message: string, changes: GatewayErrorInit): GatewayError {
  return new GatewayError(e.kind, message, {
    status: e.status,
    code: e.code,
    param: e.param,
    retryable: e.retryable,
    retryAfterMs: e.retryAfterMs,
    upstreamRequestId: e.upstreamRequestId,
    upstreamStatus: e.upstreamStatus,
    deployment: e.deployment,
    ...changes,
  });
}

/**
 * An upstream error response. The kind comes from the status (529 → overloaded, 429 → rate_limited, a 400
 * saying "prompt is too long" → context_length, …); the code is Anthropic's error type; the wait hint reads
 * retry-after and the `anthropic-ratelimit-*-reset` headers; the upstream id is Anthropic's `request-id`.
 */
export function classifyAnthropicError(status: number, headers: Headers, bodyText: string, d: Deployment): GatewayError {
  const base = classifyOpenAIError(status, headers, bodyText, d);
  const secrets = secretsOf(d.provider);
  return withChanges(base, base.message, {
    code: secrets.identifier(readWireError(bodyText).type) ?? base.code,
    upstreamRequestId: secrets.requestId(header(headers, 'request-id')) ?? base.upstreamRequestId,
  });
}

/** A mid-stream `error` event's data → GatewayError, classified by its type (overloaded_error → overloaded, …). */
export function anthropicStreamError(data: unknown, d: Deployment): GatewayError {
  const wire: WireError =
    data && typeof data === 'object' && 'error' in data && data.error && typeof data.error === 'object' ? (data.error as WireError) : {};
  const secrets = secretsOf(d.provider);
  const type = secrets.identifier(wire.type) ?? 'api_error';
  const message = typeof wire.message === 'string' && wire.message !== '' ? wire.message : type.replace(/_/g, ' ');
  const status = Object.hasOwn(STATUS_OF_TYPE, type) ? STATUS_OF_TYPE[type]! : 500;
  const base = classifyOpenAIError(status, {}, JSON.stringify({ error: { message } }), d);
  return withChanges(base, `Upstream ${d.id} sent an error mid-stream: ${secrets.scrubUntrusted(message)}`, {
    code: type,
    upstreamStatus: undefined, // the response itself was a 200
  });
}
