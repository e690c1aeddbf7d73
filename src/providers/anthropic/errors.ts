/**
 * Anthropic errors → GatewayError. Anthropic's body is `{"type":"error","error":{"type","message"}}` and
 * its HTTP statuses map one to one onto error types (400 invalid_request_error, 401 authentication_error,
 * 403 permission_error, 404 not_found_error, 413 request_too_large, 429 rate_limit_error, 500 api_error,
 * 529 overloaded_error), so an HTTP error is classified by status exactly as OpenAI's are (shared/errors.ts
 * `statusError`: same kinds, same client statuses, same redaction) and only a mid-stream `error` event, which has no status of its own, is
 * classified by its type. Pure.
 */
import { GatewayError } from '../../errors.js';
import { secretsOf } from '../../secrets.js';
import type { Deployment, Headers } from '../../types.js';
import { clientStatus, firstHeader, kindForStatus, retryableHint, statusError } from '../shared/errors.js';

interface WireError {
  type?: unknown;
  message?: unknown;
  /** Not Anthropic's: what a proxy in front of it may answer with (OpenAI's fields). */
  code?: unknown;
  param?: unknown;
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

/**
 * The error fields of a body: Anthropic's `{"type":"error","error":{…}}`, else (a proxy's answer) the body's own
 * `message` and `code`; `type` only from Anthropic's error object. {} for a body that is not a JSON object.
 */
function readWireError(bodyText: string): WireError {
  try {
    const parsed = JSON.parse(bodyText) as { error?: unknown };
    if (parsed && typeof parsed === 'object' && parsed.error && typeof parsed.error === 'object') return parsed.error as WireError;
    if (parsed && typeof parsed === 'object') {
      const { message, code, param } = parsed as Record<string, unknown>;
      return { message, code, param };
    }
  } catch {
    // Not JSON (a proxy's HTML page): the status alone classifies it.
  }
  return {};
}

const REQUEST_ID_HEADERS = ['request-id', 'x-request-id'];

/** The upstream's request id: Anthropic's `request-id` (a proxy's `x-request-id` when it has none). */
export function anthropicRequestId(headers: Headers): string | undefined {
  return firstHeader(headers, REQUEST_ID_HEADERS);
}

/**
 * An upstream error response. The kind comes from the status (529 → overloaded, 429 → rate_limited, a 400
 * saying "prompt is too long" → context_length, …); the code is Anthropic's error type; the wait hint reads
 * retry-after and the `anthropic-ratelimit-*-reset` headers; the upstream id is Anthropic's `request-id`.
 */
export function classifyAnthropicError(status: number, headers: Headers, bodyText: string, d: Deployment): GatewayError {
  const wire = readWireError(bodyText);
  const secrets = secretsOf(d.provider);
  return statusError(
    status,
    headers,
    {
      message: typeof wire.message === 'string' ? wire.message : '',
      code: typeof wire.code === 'string' ? wire.code : '',
      shownCode: secrets.identifier(wire.type) ?? wire.code,
      param: wire.param,
      requestId: anthropicRequestId(headers),
    },
    d,
  );
}

/** A mid-stream `error` event's data → GatewayError, classified by its type (overloaded_error → overloaded, …). */
export function anthropicStreamError(data: unknown, d: Deployment): GatewayError {
  const wire: WireError =
    data && typeof data === 'object' && 'error' in data && data.error && typeof data.error === 'object' ? (data.error as WireError) : {};
  const secrets = secretsOf(d.provider);
  const type = secrets.identifier(wire.type) ?? 'api_error';
  const message = typeof wire.message === 'string' && wire.message !== '' ? wire.message : type.replace(/_/g, ' ');
  const status = Object.hasOwn(STATUS_OF_TYPE, type) ? STATUS_OF_TYPE[type]! : 500;
  const kind = kindForStatus(status, '', message);
  const retryable = retryableHint({}, kind);
  // No upstreamStatus: the response itself was a 200.
  return new GatewayError(kind, `Upstream ${d.id} sent an error mid-stream: ${secrets.scrubUntrusted(message)}`, {
    status: clientStatus(kind, status),
    code: type,
    ...(retryable === undefined ? {} : { retryable }),
    deployment: d.id,
  });
}
