/**
 * Google API errors → GatewayError. Google's body is `{"error":{"code","message","status","details"}}` (a
 * one-element array of that from the streaming endpoint); `status` is the canonical gRPC code name, which says
 * more than the HTTP status (a bad API key is a 400 INVALID_ARGUMENT with an ErrorInfo `API_KEY_INVALID`).
 */
import { type ErrorKind, GatewayError } from '../../errors.js';
import { secretsOf } from '../../secrets.js';
import { parseDuration, retryHintMs } from '../../resilience/retry-hints.js';
import type { Deployment, Headers } from '../../types.js';
import { clientStatus, firstHeader, kindForStatus, shownMessage } from '../shared/errors.js';

export interface GoogleError {
  code?: unknown;
  message?: unknown;
  status?: unknown;
  details?: unknown;
}

/** The `error` object of a Google error body, or {} when the body is not one. */
export function readGoogleError(bodyText: string): GoogleError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    return {}; // an HTML page from a proxy, say: the HTTP status alone classifies it
  }
  if (Array.isArray(parsed)) parsed = parsed[0];
  const error = parsed && typeof parsed === 'object' ? (parsed as { error?: unknown }).error : undefined;
  return error && typeof error === 'object' ? (error as GoogleError) : {};
}

const KIND_BY_STATUS: Record<string, ErrorKind> = {
  RESOURCE_EXHAUSTED: 'rate_limited',
  UNAVAILABLE: 'overloaded',
  INTERNAL: 'server',
  UNKNOWN: 'server',
  ABORTED: 'server',
  DATA_LOSS: 'server',
  DEADLINE_EXCEEDED: 'timeout',
  INVALID_ARGUMENT: 'bad_request',
  FAILED_PRECONDITION: 'bad_request',
  OUT_OF_RANGE: 'bad_request',
  UNIMPLEMENTED: 'bad_request',
  PERMISSION_DENIED: 'auth',
  UNAUTHENTICATED: 'auth',
  NOT_FOUND: 'not_found',
};

/** "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)." */
const CONTEXT_RE = /input token count.*exceeds|exceeds the maximum number of tokens|context (length|window)|too many tokens/i;
const BAD_KEY_RE = /API key (not valid|expired|invalid)/i;


function detailsOf(error: GoogleError): Array<Record<string, unknown>> {
  return Array.isArray(error.details) ? error.details.filter((x): x is Record<string, unknown> => !!x && typeof x === 'object') : [];
}

function isType(detail: Record<string, unknown>, type: string): boolean {
  return typeof detail['@type'] === 'string' && detail['@type'].endsWith(type);
}

/** `google.rpc.RetryInfo.retryDelay`, a protobuf Duration in JSON ("30s", "0.5s"). */
export function retryInfoMs(error: GoogleError): number | undefined {
  for (const detail of detailsOf(error)) {
    if (isType(detail, 'google.rpc.RetryInfo') && typeof detail.retryDelay === 'string') return parseDuration(detail.retryDelay);
  }
  return undefined;
}

function hasBadKeyReason(error: GoogleError): boolean {
  return detailsOf(error).some((x) => isType(x, 'google.rpc.ErrorInfo') && typeof x.reason === 'string' && x.reason.startsWith('API_KEY_'));
}

export function geminiErrorKind(httpStatus: number, error: GoogleError): ErrorKind {
  const status = typeof error.status === 'string' ? error.status : '';
  const message = typeof error.message === 'string' ? error.message : '';
  if (hasBadKeyReason(error) || BAD_KEY_RE.test(message)) return 'auth';
  const kind = (Object.hasOwn(KIND_BY_STATUS, status) ? KIND_BY_STATUS[status] : undefined) ?? kindForStatus(httpStatus, '', message);
  return kind === 'bad_request' && CONTEXT_RE.test(message) ? 'context_length' : kind;
}

/**
 * A Google error as a GatewayError. `httpStatus` is the response status, or the error's own `code` for an
 * error that arrived inside a stream.
 */
export function googleError(httpStatus: number, error: GoogleError, headers: Headers, d: Deployment, what: string): GatewayError {
  const kind = geminiErrorKind(httpStatus, error);
  const secrets = secretsOf(d.provider);
  // Untrusted like every upstream error field (the key may be echoed anywhere); Google keys (`AIza…`) are key-shaped.
  const shown = shownMessage(kind, typeof error.message === 'string' ? error.message : '', d);
  return new GatewayError(kind, `Upstream ${d.id} ${what}: ${shown}`, {
    status: clientStatus(kind, httpStatus),
    code: kind === 'context_length' ? 'context_length_exceeded' : secrets.identifier(error.status)?.toLowerCase(),
    retryAfterMs: retryHintMs(headers) ?? retryInfoMs(error),
    upstreamRequestId: secrets.requestId(geminiRequestId(headers)),
    upstreamStatus: httpStatus,
    deployment: d.id,
  });
}

const REQUEST_ID_HEADERS = ['x-request-id'];

/** The upstream's request id, when a proxy in front of Google adds one (`x-request-id`). */
export function geminiRequestId(headers: Headers): string | undefined {
  return firstHeader(headers, REQUEST_ID_HEADERS);
}

export function classifyGeminiError(status: number, headers: Headers, bodyText: string, d: Deployment): GatewayError {
  const error = readGoogleError(bodyText);
  const name = secretsOf(d.provider).identifier(error.status);
  const label = name ? `${status} ${name}` : String(status);
  return googleError(status, error, headers, d, `answered ${label}`);
}

/** An `{"error":…}` event inside a stream; its `code` stands in for the HTTP status. */
export function geminiStreamError(error: GoogleError, d: Deployment): GatewayError {
  const code = typeof error.code === 'number' ? error.code : 500;
  return googleError(code, error, {}, d, 'sent an error mid-stream');
}


/** A prompt Gemini refused to answer (`promptFeedback.blockReason`): content_policy, for content_policy_fallbacks. */
export function promptBlocked(feedback: Record<string, unknown>, d: Deployment): GatewayError {
  const secrets = secretsOf(d.provider);
  const reason = secrets.identifier(feedback.blockReason) ?? 'BLOCKED';
  const detail = typeof feedback.blockReasonMessage === 'string' ? ` (${secrets.scrubUntrusted(feedback.blockReasonMessage)})` : '';
  return new GatewayError('content_policy', `Upstream ${d.id} blocked the prompt: ${reason}${detail}`, {
    code: 'content_filter',
    upstreamStatus: 200,
    deployment: d.id,
  });
}
